import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Check, list and test rules.", subcommands: [RulesCheckCommand.self, RulesListCommand.self, RulesTestCommand.self])
}

struct RulesCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check", abstract: "Load every rule and print every problem; exit 2 if any rule has an error.")

    @Argument(help: "Rule directories or files. Default: the bundled Rules/.")
    var paths: [String] = []

    func run() throws {
        let result = RulesReport.check(paths: paths)
        for line in result.lines { FileOutput.stderr(line + "\n") }
        throw ExitCode(result.exitStatus)
    }
}

struct RulesListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the loaded rules.")

    @Argument(help: "Rule directories or files. Default: the bundled Rules/.")
    var paths: [String] = []

    func run() throws {
        let result = RulesReport.list(paths: paths)
        for line in result.lines { print(line) }
        throw ExitCode(result.exitStatus)
    }
}

struct RulesTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run the rule tests: sample lines that must and must not match each rule.",
        discussion: "Exit status: 0 all passed, 1 a case failed, 2 tests or rules could not be loaded.")

    @Option(name: .customLong("rules"), help: "Rule directories or files (repeatable). Default: the bundled Rules/.")
    var rules: [String] = []

    @Option(name: .customLong("tests"), help: "The rule tests directory. Default: <first rules directory>/tests.")
    var tests: String?

    func run() throws {
        let result = RulesReport.test(rulePaths: rules, testsDirectory: tests)
        for line in result.lines { FileOutput.stderr(line + "\n") }
        throw ExitCode(result.exitStatus)
    }
}

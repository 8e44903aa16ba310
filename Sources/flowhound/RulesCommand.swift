import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

struct RulesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rules", abstract: "Check and list rules.", subcommands: [RulesCheckCommand.self, RulesListCommand.self])
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

import ArgumentParser
import FlowhoundPipeline

@main
struct Flowhound: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flowhound",
        abstract: "Find suspicious internal communications in network and communication logs.",
        discussion: """
            Exit status: 0 nothing found at or above --fail-level, 1 findings, 2 errors (unreadable input, \
            bad rules, bad usage); 2 wins over 1.
            """,
        version: FlowhoundVersion.string,
        subcommands: [
            ScanCommand.self, TailCommand.self, RulesCommand.self, FieldsCommand.self, BaselineCommand.self,
            AlertsCommand.self, ReportCommand.self,
        ])

    /// ArgumentParser's usage errors exit 64; flowhound promises 2 for every error so scripts need one test.
    static func mainWithExitCodes() -> Never {
        do {
            var command = try parseAsRoot()
            try command.run()
            Foundation_exit(0)
        } catch let code as ExitCode {
            Foundation_exit(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                Foundation_exit(0)
            }
            if !message.isEmpty { FileOutput.stderr(message + "\n") }
            Foundation_exit(ExitStatus.error)
        }
    }

    static func main() { mainWithExitCodes() }
}

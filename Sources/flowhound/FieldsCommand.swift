import ArgumentParser
import FlowhoundCore
import FlowhoundPipeline

struct FieldsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fields",
        abstract: "List every field each format provides, under each name rules may use.",
        discussion: "One line per field: format, log type, native name, type, the ECS/taxonomy/spelling aliases, roles.")

    @Option(name: .customLong("format"), help: "Only this format.")
    var format: LogFormat?

    func run() throws {
        for line in FieldsReport.lines(format: format) { print(line) }
    }
}

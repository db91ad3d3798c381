import ArgumentParser
import DreamClassAPI
import EventStore
import Foundation
import Hummingbird
import Postgres
import Receiver

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Receive DreamClass's webhooks and store them in the event store.",
        discussion: """
            Point the webhook of DreamClass's integration settings at http(s)://HOST:PORT/webhooks/dreamclass \
            (behind a TLS-terminating proxy). With DREAMCLASS_WEBHOOK_SECRET (or _FILE) set, signatures are \
            checked; with --user, Basic auth is, the password from DREAMCLASS_WEBHOOK_PASSWORD (or _FILE). \
            SIGTERM or SIGINT stop it after the requests in flight.
            """
    )

    @Option var host = "127.0.0.1"
    @Option var port = 8080
    @Option(help: "The Basic-auth user DreamClass sends.") var user: String?
    @Option(help: "How the webhook secret becomes the HMAC key: base64 or raw.") var keyEncoding: WebhookSignature.KeyEncoding = .base64
    @Option(help: "The largest body accepted, in bytes.") var maxBodyBytes = 1 << 20
    @Option(help: "Database connections.") var connections = 4
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger(label: "serve")
        var options = WebhookReceiver.Options(schema: global.resolvedSchema)
        options.maxBodyBytes = maxBodyBytes
        options.connections = connections
        options.signature = try secret("DREAMCLASS_WEBHOOK_SECRET").map { try WebhookSignature(secret: $0, encoding: keyEncoding) }
        if let user {
            guard let password = try secret("DREAMCLASS_WEBHOOK_PASSWORD") else {
                throw ValidationError("--user needs DREAMCLASS_WEBHOOK_PASSWORD (or DREAMCLASS_WEBHOOK_PASSWORD_FILE)")
            }
            options.basicAuth = (user, password)
        }
        let settings = global
        try await exitOnFailure {
            try Migrator(schema: settings.resolvedSchema, logger: logger).requireUpToDate(try settings.connect(logger: logger))
        }
        let receiver = WebhookReceiver(options: options, logger: logger) { try settings.connect(logger: logger) }
        let (host, path) = (self.host, options.path)
        let app = receiver.application(host: host, port: port) { bound in
            logger.notice("receiving webhooks", metadata: ["url": "http://\(host):\(bound)\(path)"])
        }
        try await app.runService()
    }
}

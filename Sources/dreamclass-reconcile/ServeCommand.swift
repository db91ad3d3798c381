import ArgumentParser
import FleetJob
import Receiver
import Settings
import Signing

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Receive DreamClass's webhooks and store them in the event store.",
        discussion: """
            Point the webhook of DreamClass's integration settings at http(s)://HOST:PORT/webhooks/dreamclass \
            (behind a TLS-terminating proxy). With DREAMCLASS_WEBHOOK_SECRET (or _FILE) set, signatures are \
            checked; with --config, each school's webhook_secret_file and key_encoding check its tenant's \
            events (the environment's secret, when set, wins for all). With --user, Basic auth is checked, \
            the password from DREAMCLASS_WEBHOOK_PASSWORD (or _FILE). \
            SIGTERM or SIGINT stop it after the requests in flight.
            """
    )

    @Option var host = "127.0.0.1"
    @Option(help: "The port to listen on; 0 takes a free one, which the log's \"receiving webhooks\" line names.") var port = 8080
    @Option(help: "The Basic-auth user DreamClass sends.") var user: String?
    @Option(help: "How the webhook secret becomes the HMAC key: base64, raw or hex (default: a school's key_encoding, else base64).")
    var keyEncoding: WebhookSignature.KeyEncoding?
    @Option(help: "The largest body accepted, in bytes.") var maxBodyBytes = 1 << 20
    @Option(help: "Database connections.") var connections = 4
    @Option(help: "Refuse events whose timestamp is further than this from now, as possible replays (only the id is signed): 90s, 15m, 2h, 1d; 0 accepts any.")
    var timestampWindow = "1d"
    @Option(help: "Close a connection that has not sent a whole request head, or sat idle, this many seconds.")
    var idleTimeout = 10
    @Option(help: "Connections open at once; more wait until one closes.")
    var maxConnections = 1_024
    @Option(help: "Also answer GET /health on this port, apart from the webhooks' connection cap, so a liveness probe answers under a flood of connections (default: /health on --port only).")
    var healthPort: Int?

    func validate() throws {
        guard parseDuration(timestampWindow) != nil else { throw ValidationError("--timestamp-window takes 0, 90s, 15m, 2h or 1d, not \"\(timestampWindow)\"") }
        guard (1...3600).contains(idleTimeout) else { throw ValidationError("--idle-timeout takes 1 to 3600 seconds") }
        guard (1...1_000_000).contains(maxConnections) else { throw ValidationError("--max-connections takes 1 to 1000000") }
        guard (1...(1 << 30)).contains(maxBodyBytes) else { throw ValidationError("--max-body-bytes takes 1 to 1073741824") }
        // Within PostgreSQL's default max_connections (100), beside the nightly run's.
        guard (1...64).contains(connections) else { throw ValidationError("--connections takes 1 to 64, not \(connections)") }
        guard (0...65_535).contains(port) else { throw ValidationError("--port takes 0 to 65535, not \(port)") }
        if let healthPort {
            guard (1...65_535).contains(healthPort), healthPort != port else { throw ValidationError("--health-port takes 1 to 65535, not --port, not \(healthPort)") }
        }
    }
    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let logger = try global.makeLogger(label: "serve")
        var options = WebhookReceiver.Options(schema: global.resolvedSchema)
        options.maxBodyBytes = maxBodyBytes
        options.connections = connections
        options.idleTimeout = .seconds(idleTimeout)
        options.maxConnections = maxConnections
        // Checked in validate(); 0 accepts any time.
        let window = parseDuration(timestampWindow) ?? .zero
        options.timestampWindow = window > .zero ? window : nil
        var service = WebhookService(options: options, host: host, port: port, healthPort: healthPort)
        let settings = global
        try await exitOnFailure {
            try service.readSecrets(configPath: settings.resolvedConfigPath, keyEncoding: keyEncoding, user: user, environment: settings.environment)
            try await service.run(logger: logger) { try settings.connect(logger: logger) }
        }
    }
}

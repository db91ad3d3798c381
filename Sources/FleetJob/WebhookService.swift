import DreamClassAPI
import EventStore
import Logging
import Postgres
import Receiver
import ServiceLifecycle
import Settings
import Signing

/// `serve`: the receiver with the secrets the settings give, started once the store is migrated.
public struct WebhookService: Sendable {
    public var options: WebhookReceiver.Options
    public var host: String
    public var port: Int
    /// A second listener for `GET /health` alone, apart from the webhooks' connection cap.
    public var healthPort: Int?

    public init(options: WebhookReceiver.Options, host: String, port: Int, healthPort: Int? = nil) {
        self.options = options
        self.host = host
        self.port = port
        self.healthPort = healthPort
    }

    /// Takes the secrets into ``options``, as every command resolves them: the environment's
    /// `DREAMCLASS_WEBHOOK_SECRET` (or `_FILE`) checks every tenant's events; otherwise each school
    /// of the schools file its own tenant's, from its `webhook_secret_file` and `key_encoding`.
    /// `keyEncoding` (the flag) wins over a school's. With `user`, Basic auth is checked against
    /// `DREAMCLASS_WEBHOOK_PASSWORD` (or `_FILE`). Each secret is redacted from then on.
    public mutating func readSecrets(
        configPath: String?, keyEncoding: WebhookSignature.KeyEncoding?, user: String?, environment: [String: String]
    ) throws {
        options.signature = try Secrets.read("DREAMCLASS_WEBHOOK_SECRET", environment: environment).map {
            try WebhookSignature(secret: $0, encoding: keyEncoding ?? .base64)
        }
        if let configPath {
            let file = try SettingsFile.load(path: configPath)
            for name in file.schoolNames {
                let school = try file.school(name, environment: environment)
                guard let secret = try Secrets.read("DREAMCLASS_WEBHOOK_SECRET", environment: school.secretsEnvironment(environment)) else { continue }
                options.signatures[school.api.tenant] = try WebhookSignature(secret: secret, encoding: keyEncoding ?? school.keyEncoding ?? .base64)
            }
        }
        if let user {
            guard let password = try Secrets.read("DREAMCLASS_WEBHOOK_PASSWORD", environment: environment) else {
                throw ConfigurationError.required("DREAMCLASS_WEBHOOK_PASSWORD", by: "--user")
            }
            options.basicAuth = (user, password)
        }
    }

    /// Checks the store is migrated, then receives until SIGTERM or SIGINT, after the requests in
    /// flight; both listeners stop together.
    public func run(logger: Logger, connect: @escaping @Sendable () throws -> Connection) async throws {
        try Migrator(schema: options.schema, logger: logger).requireUpToDate(try connect())
        let receiver = WebhookReceiver(options: options, logger: logger, connect: connect)
        let (host, path) = (self.host, options.path)
        let app = receiver.application(host: host, port: port) { bound in
            logger.notice("receiving webhooks", metadata: ["url": "http://\(host):\(bound)\(path)"])
        }
        var services: [any Service] = [app]
        if let healthPort {
            services.append(receiver.healthApplication(host: host, port: healthPort) { bound in
                logger.notice("answering health checks", metadata: ["url": "http://\(host):\(bound)/health"])
            })
        }
        try await ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)).run()
    }
}

import DreamClassAPI
import Foundation
import HTTPTypes
import HTTPServing
import Hummingbird
import Logging
import Postgres

/// The HTTP endpoint DreamClass delivers webhooks to: it checks them and stores each one in
/// `webhook_events` exactly once, answering 200 only after the row is committed.
///
/// - Basic auth, when configured (the credentials set in DreamClass's integration settings).
/// - The HMAC signature, when a secret is configured: a bad one gets 401 and is kept nowhere but
///   in a log line (it may be forged).
/// - A body that is not a valid envelope gets 400 and is kept in `rejected_events`.
/// - A re-sent event id gets 200 and stores nothing new.
/// - With the database down, 503: DreamClass counts the delivery as failed.
public final class WebhookReceiver: Sendable {
    public struct Options: Sendable {
        public var schema: String
        public var path = "/webhooks/dreamclass"
        public var basicAuth: (user: String, password: String)?
        public var signature: WebhookSignature?
        public var maxBodyBytes = 1 << 20
        public var connections = 4

        public init(schema: String) { self.schema = schema }
    }

    public let options: Options
    private let pool: ConnectionPool
    private let logger: Logger
    private let server = InProcessServer()

    public init(options: Options, logger: Logger = Logger(label: "serve"), connect: @escaping @Sendable () throws -> Connection) {
        self.options = options
        self.logger = logger
        pool = ConnectionPool(size: options.connections, connect: connect)
    }

    /// The application, for `runService()` (graceful shutdown on SIGTERM and SIGINT: requests in
    /// flight are finished).
    public func application(host: String, port: Int, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(
            responder: CallbackResponder { [self] (request: Request, _: BasicRequestContext) in await respond(to: request) },
            configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "dreamclass-reconcile"),
            onServerRunning: { await onServerRunning($0.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Starts serving in this process (tests); returns the webhook URL.
    public func start(host: String = "127.0.0.1", port: Int = 0) async throws -> String {
        let bound = try await server.start(logger: logger) { onRunning in application(host: host, port: port) { await onRunning($0) } }
        return "http://\(host):\(bound)\(options.path)"
    }

    /// Stops serving, after the requests in flight, and waits until it has.
    public func stop() async {
        await server.stop()
    }

    // MARK: - Answering

    private func respond(to request: Request) async -> Response {
        switch (request.method, request.uri.path) {
        case (.get, "/health"):
            let up = (try? await pool.withConnection { try $0.execute("SELECT 1") }) != nil
            return Self.text(up ? .ok : .serviceUnavailable, up ? #"{"status":"ok"}"# : #"{"status":"database unavailable"}"#)
        case (.post, options.path):
            return await receive(request)
        case (_, options.path):
            return Self.text(.methodNotAllowed, #"{"error":"POST only"}"#)
        default:
            return Self.text(.notFound, #"{"error":"not found"}"#)
        }
    }

    private func receive(_ request: Request) async -> Response {
        if let auth = options.basicAuth {
            let expected = "Basic " + Data("\(auth.user):\(auth.password)".utf8).base64EncodedString()
            guard Self.constantTimeEqual(request.headers[.authorization] ?? "", expected) else {
                logger.notice("webhook refused: missing or wrong Basic auth")
                var response = Self.text(.unauthorized, #"{"error":"unauthorized"}"#)
                response.headers[.wwwAuthenticate] = #"Basic realm="dreamclass-webhooks""#
                return response
            }
        }
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: options.maxBodyBytes)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            logger.notice("webhook refused: body larger than the limit", metadata: ["limit": "\(options.maxBodyBytes)"])
            return Self.text(.contentTooLarge, #"{"error":"body too large"}"#)
        }
        let envelope: WebhookEnvelope
        do {
            envelope = try WebhookEnvelope.validate(body)
        } catch {
            return await reject(body, reason: error.reason)
        }
        if let signature = options.signature, !signature.isValid(signature: envelope.signature, eventID: envelope.rawID) {
            logger.warning("webhook refused: bad signature", metadata: ["event": "\(envelope.rawID)", "type": "\(envelope.type)"])
            return Self.text(.unauthorized, #"{"error":"bad signature"}"#)
        }
        // Checked, so true; not checked (no secret configured), so unknown.
        let signatureValid: Bool? = options.signature == nil ? nil : true
        let text = String(decoding: body, as: UTF8.self)
        let table = "\(quoteIdentifier(options.schema)).webhook_events"
        do {
            let stored = try await pool.withConnection { connection in
                try connection.execute("""
                    INSERT INTO \(table) (event_id, tenant, event_type, event_time, signature, signature_valid, payload, body, source)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $7, 'webhook')
                    ON CONFLICT (event_id) DO NOTHING
                    """, [envelope.id, envelope.tenant, envelope.type, envelope.time, envelope.signature, signatureValid, text])
            }
            logger.debug(stored == 1 ? "webhook stored" : "webhook already stored", metadata: ["event": "\(envelope.rawID)", "type": "\(envelope.type)"])
            return Self.text(.ok, stored == 1 ? #"{"status":"stored"}"# : #"{"status":"duplicate"}"#)
        } catch let error as PostgresError where error.sqlState?.hasPrefix("22") == true {
            return await reject(body, reason: "refused by PostgreSQL: \(error.message)")
        } catch {
            logger.error("webhook not stored: database unavailable", metadata: ["event": "\(envelope.rawID)", "error": "\(error)"])
            return Self.text(.serviceUnavailable, #"{"error":"try again later"}"#)
        }
    }

    /// Keeps an invalid body in `rejected_events` and answers 400 (503 when it cannot be kept).
    private func reject(_ body: [UInt8], reason: String) async -> Response {
        let table = "\(quoteIdentifier(options.schema)).rejected_events"
        do {
            try await pool.withConnection { connection in
                try connection.execute("INSERT INTO \(table) (source_name, reason, raw) VALUES ('serve', $1, $2)", [reason, Data(body)])
            }
        } catch {
            logger.error("invalid webhook could not be kept", metadata: ["reason": "\(reason)", "error": "\(error)"])
            return Self.text(.serviceUnavailable, #"{"error":"try again later"}"#)
        }
        logger.notice("webhook rejected", metadata: ["reason": "\(reason)"])
        return Self.text(.badRequest, "{\"error\":\(Self.quote(reason))}")
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    private static func quote(_ text: String) -> String {
        String(decoding: (try? JSONEncoder().encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

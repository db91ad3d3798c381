import DreamClassAPI
import Foundation
import HTTPTypes
import Hummingbird
import Models
import Signing
import Synchronization
import TestSupport

/// A school's webhook endpoint for the tests: checks Basic auth and the signature, fails the first
/// deliveries on purpose, and keeps what it accepted.
final class TestReceiver: Sendable {
    struct State {
        var failFirst: Int
        var alwaysFail: Set<String> = []
        var attempts = 0
        var accepted: [String] = []
        var rejectedAuth = 0
        var rejectedSignature = 0
    }

    let state: Mutex<State>
    let user: String
    let password: String
    let signature: WebhookSignature
    private let server = Mutex<TestHTTPServer?>(nil)

    init(failFirst: Int, user: String, password: String, signature: WebhookSignature) {
        state = Mutex(State(failFirst: failFirst))
        self.user = user
        self.password = password
        self.signature = signature
    }

    /// Starts listening; returns the URL to deliver to.
    func start() async throws -> String {
        let expectedAuth = "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
        let http = TestHTTPServer { [self] request in
            let text = (try? await request.body.collect(upTo: 1 << 20)).map { String(buffer: $0) } ?? ""
            let envelope = try? WebhookEnvelope.validate(Array(text.utf8))
            return state.withLock { state -> Response in
                state.attempts += 1
                guard request.headers[.authorization] == expectedAuth else {
                    state.rejectedAuth += 1
                    return Response(status: .unauthorized)
                }
                guard let envelope, signature.isValid(signature: envelope.signature, eventID: envelope.rawID) else {
                    state.rejectedSignature += 1
                    return Response(status: .unauthorized)
                }
                if state.failFirst > 0 || state.alwaysFail.contains(envelope.rawID) {
                    state.failFirst -= 1
                    return Response(status: .serviceUnavailable)
                }
                state.accepted.append(envelope.rawID)
                return Response(status: .ok)
            }
        }
        server.withLock { $0 = http }
        return try await http.start() + "/webhooks/dreamclass"
    }

    func stop() async {
        await server.withLock { $0 }?.stop()
    }
}

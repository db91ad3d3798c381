import AsyncHTTPClient
import DreamClassAPI
import EventStore
import Foundation
import Logging
import Models
import NIOCore
import Postgres
import Receiver
import TestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `serve` faces the internet: what a hostile or careless client sends can neither stop it nor
/// fill its database.
@Suite struct HostileClientTests {
    let database: TestDatabase
    let connection: Connection

    init() throws {
        (database, connection) = try TestPostgres.makeStore("hostile")
    }

    func receiver(_ change: (inout WebhookReceiver.Options) -> Void = { _ in }, logger: Logger? = nil) -> WebhookReceiver {
        var options = WebhookReceiver.Options(schema: "dreamclass")
        options.signature = ReceiverTests.signature
        change(&options)
        let database = self.database
        return WebhookReceiver(options: options, logger: logger ?? Logger(label: "serve")) { try database.connect() }
    }

    static var nowMillis: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func count(_ table: String) throws -> Int {
        try connection.query("SELECT count(*) FROM dreamclass.\(table)").first!.decode(Int.self, at: 0)
    }

    @Test func nothingUnauthenticatedIsStoredAndItsRefusalsAreLoggedSparingly() async throws {
        let capture = LogCapture()
        let receiver = receiver(logger: capture.logger(label: "serve"))
        let url = try await receiver.start()
        let garbage = String(repeating: "x", count: 100_000)
        var statuses: [Int] = []
        let start = ContinuousClock.now
        for index in 0..<100 {
            let body = index.isMultiple(of: 2) ? garbage : #"{"id":"\#(UUID())","signature":"AAAA","type":"X","pad":"\#(garbage)"}"#
            statuses.append(try await ReceiverTests.post(url, body, auth: nil).0)
        }
        let elapsed = ContinuousClock.now - start
        await receiver.stop()
        #expect(statuses.allSatisfy { $0 == 401 })
        #expect(try count("rejected_events") == 0)
        #expect(try count("webhook_events") == 0)
        // One line at first, then at most one per interval however long the 100 took (a loaded
        // machine takes longer): never a line per request.
        let lines = capture.messages.filter { $0.contains("webhooks refused") }.count
        let intervals = Int(elapsed / WebhookReceiver.refusalLogInterval)
        #expect(lines >= 1 && lines <= 1 + intervals, "\(lines) lines in \(elapsed)")
    }

    @Test func aReplayOutsideTheWindowIsRefusedByIdAndAStoredEventNeverChanges() async throws {
        let receiver = receiver { $0.timestampWindow = .seconds(3600) }
        let url = try await receiver.start()
        let (captured, delivered) = (UUID(), UUID())
        let row = Enrollment(id: 74, studentId: 76, active: true, addedAt: "2024-10-02T09:40:02.179+00:00")
        var changed = row
        changed.active = false
        // A delivery captured 30 days ago, re-sent as it was, then with a fresh timestamp: the
        // id (the only signed part) is what is refused, whatever timestamp comes with it.
        let (tooOld, _) = try await ReceiverTests.post(url, ReceiverTests.body(id: captured, row: row, millis: Self.nowMillis - 30 * 86_400_000))
        let (freshened, why) = try await ReceiverTests.post(url, ReceiverTests.body(id: captured, row: changed, millis: Self.nowMillis))
        // A delivery inside the window is stored; re-sent with other data, the stored one stays.
        let (stored, _) = try await ReceiverTests.post(url, ReceiverTests.body(id: delivered, row: row, millis: Self.nowMillis))
        let (again, answer) = try await ReceiverTests.post(url, ReceiverTests.body(id: delivered, row: changed, millis: Self.nowMillis))
        await receiver.stop()
        #expect(tooOld == 400)
        #expect(freshened == 400 && why.contains("refused before as a possible replay"), "\(why)")
        #expect(stored == 200)
        #expect(again == 200 && answer.contains("duplicate"))
        #expect(try count("rejected_events") == 0)
        #expect(try count("refused_replays") == 1)
        let kept = try connection.query("SELECT event_id, active FROM dreamclass.webhook_events").rows
            .map { (try $0.decode(UUID.self, at: 0), try $0.decode(Bool.self, at: 1)) }
        #expect(kept.count == 1 && kept[0].0 == delivered && kept[0].1 == true)
    }

    @Test func anOutOfRangeTimestampIs400AndTheReceiverKeepsServing() async throws {
        let receiver = receiver { $0.timestampWindow = nil }
        let url = try await receiver.start()
        let id = UUID().uuidString.lowercased()
        let huge = #"{"id":"\#(id)","signature":"\#(ReceiverTests.signature.sign(eventID: id))","type":"STUDENT_PERIOD_CREATED","tenant":"t","timestamp":10000000000000000,"data":{"id":1}}"#
        let (refused, reason) = try await ReceiverTests.post(url, huge, auth: nil)
        let (next, _) = try await ReceiverTests.post(url, ReceiverTests.body(millis: Self.nowMillis), auth: nil)
        await receiver.stop()
        #expect(refused == 400)
        #expect(reason.contains("timestamp"))
        #expect(next == 200)
        #expect(try count("rejected_events") == 1)
    }

    @Test func a413AnswersAtOnceAndClosesTheConnection() async throws {
        let receiver = receiver { $0.maxBodyBytes = 4096 }
        let url = try await receiver.start()
        let port = try #require(URL(string: url)?.port)
        let client = try await Blocking.run { try RawSocket(port: port) }
        // It announces 5 MB and sends 64 KB of it, then waits: the answer must come, and the
        // connection must close, without the rest.
        client.send("POST /webhooks/dreamclass HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
        client.send(String(repeating: "x", count: 65_536))
        // Blocking reads go to the thread pool for blocking work, not to Swift's few cooperative
        // threads, which the receiver needs to answer.
        let (answer, closed) = try await Blocking.run { client.readToEnd() }
        await receiver.stop()
        #expect(answer.hasPrefix("HTTP/1.1 413"), "\(answer)")
        #expect(closed)
    }

    /// A head that declares more than the limit gets its 413 before a byte of body is sent; a body
    /// that stops halfway gets its 408 when the body timeout ends, before the idle timeout would
    /// close the connection without a word.
    @Test(arguments: [("Content-Length: 5000000", "", "413"), ("Content-Length: 100", String(repeating: "x", count: 50), "408")])
    func aHeadDeclaringTooMuchGets413AndAHalfBody408(head: String, body: String, status: String) async throws {
        let receiver = receiver {
            $0.maxBodyBytes = 4096
            // The body timer runs on Swift's cooperative threads, the idle one on NIO's: on a
            // machine busy with the whole suite the first can wake seconds late, so the idle
            // timeout here leaves it all the room it could need.
            $0.idleTimeout = .seconds(30)
            $0.bodyTimeout = .seconds(2)
        }
        let url = try await receiver.start()
        let port = try #require(URL(string: url)?.port)
        let client = try await Blocking.run { try RawSocket(port: port) }
        client.send("POST /webhooks/dreamclass HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(head)\r\n\r\n\(body)")
        let (answer, closed) = try await Blocking.run { client.readToEnd() }
        await receiver.stop()
        #expect(answer.hasPrefix("HTTP/1.1 \(status)"), "\(answer)")
        #expect(closed)
    }

    /// The webhook port full (every connection it takes held idle, more waiting in the backlog):
    /// the health listener of its own still answers a probe.
    @Test func theHealthListenerAnswersWhileTheWebhookPortIsFull() async throws {
        let receiver = receiver {
            $0.maxConnections = 4
            $0.idleTimeout = .seconds(60)
        }
        let url = try await receiver.start()
        let health = try await receiver.startHealth()
        let port = try #require(URL(string: url)?.port)
        let held = try await Blocking.run { try (0..<40).map { _ in try RawSocket(port: port) } }
        for socket in held { socket.send("POST /webhooks/dreamclass HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n") }
        let answer = try await HTTPClient.shared.execute(HTTPClientRequest(url: health), timeout: .seconds(30))
        let text = String(buffer: try await answer.body.collect(upTo: 1024))
        await receiver.stop()
        #expect(answer.status.code == 200, "\(text)")
        #expect(text.contains("ok"))
        _ = held
    }

    /// A flood of idle sockets and slow clients (200 and 40), bounded in count and time, on loopback; valid
    /// deliveries keep getting their 200 within DreamClass's 10 s, and the held sockets are closed.
    @Test func theReceiverHoldsItsGroundUnderSlowAndIdleClients() async throws {
        let receiver = receiver {
            $0.idleTimeout = .seconds(2)
            $0.bodyTimeout = .seconds(2)
            $0.maxConnections = 600
            $0.timestampWindow = nil
        }
        let url = try await receiver.start()
        let port = try #require(URL(string: url)?.port)
        // connect(2) blocks while the listen backlog is full: on the pool for blocking work, not on
        // the cooperative threads every other test (and the receiver) runs on.
        let idle = try await Blocking.run { try (0..<200).map { _ in try RawSocket(port: port) } }
        let slow = try await Blocking.run { try (0..<40).map { _ in try RawSocket(port: port) } }
        for client in slow { client.send("POST /webhooks/dreamclass HTTP/1.1\r\nHo") }
        // Slow clients trickle a byte now and then; meanwhile deliveries go through.
        let trickle = Task.detached {
            for _ in 0..<8 {
                for client in slow { client.send("s") }
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        var answers: [Int] = []
        for _ in 0..<20 {
            let (status, _) = try await ReceiverTests.post(url, ReceiverTests.body(millis: Self.nowMillis), auth: nil)
            answers.append(status)
        }
        let health = try await HTTPClient.shared.execute(HTTPClientRequest(url: url.replacingOccurrences(of: "/webhooks/dreamclass", with: "/health")), timeout: .seconds(60))
        await trickle.value
        // Held sockets are closed by the receiver, not by the test.
        let idleClosed = try await Blocking.run { idle.prefix(20).map { $0.readToEnd().closed } }
        let slowClosed = try await Blocking.run { slow.prefix(10).map { $0.readToEnd().closed } }
        await receiver.stop()
        // Every delivery is stored while the held sockets wait (how fast is the benchmarks' to say).
        #expect(answers.allSatisfy { $0 == 200 }, "\(answers)")
        #expect(health.status.code == 200)
        #expect(idleClosed.allSatisfy { $0 })
        #expect(slowClosed.allSatisfy { $0 })
        #expect(try count("webhook_events") == 20)
    }
}

/// A socket to the receiver, spoken to byte by byte.
final class RawSocket: Sendable {
    let descriptor: Int32

    init(port: Int) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { close(descriptor); throw POSIXError(.ECONNREFUSED) }
        // The receiver closes held sockets within seconds; a minute leaves room for a busy machine.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(descriptor) }

    func send(_ text: String) {
        _ = text.utf8CString.withUnsafeBufferPointer { Glibc.send(descriptor, $0.baseAddress, $0.count - 1, Int32(MSG_NOSIGNAL)) }
    }

    /// Everything until the peer closes (or 15 s pass); `closed` tells which. A reset counts as
    /// closed: a client that kept sending after the server closed gets one.
    func readToEnd() -> (text: String, closed: Bool) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return (String(decoding: bytes, as: UTF8.self), true) }
            if count < 0 { return (String(decoding: bytes, as: UTF8.self), errno == ECONNRESET) }
            bytes += buffer.prefix(count)
        }
    }
}


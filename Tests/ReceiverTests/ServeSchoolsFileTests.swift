import AsyncHTTPClient
import Foundation
import Models
import NIOCore
import Signing
import TestSupport
import Testing

/// `serve --config`: each school's `webhook_secret_file` and `key_encoding` check its own
/// tenant's deliveries, as the other commands read the same file.
@Suite struct ServeSchoolsFileTests {
    static func body(tenant: String, signature: WebhookSignature) -> String {
        let id = UUID()
        return WebhookEnvelope.body(id: id, type: "STUDENT_PERIOD_CREATED", tenant: tenant, timestampMillis: Int64(Date().timeIntervalSince1970 * 1000),
                                    signature: signature.sign(eventID: id.uuidString.lowercased()),
                                    data: Enrollment(id: Int.random(in: 1...1_000_000), studentId: 1, active: true, addedAt: "2024-10-02T09:40:02.179+00:00"))
    }

    static func post(_ url: String, _ body: String) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.body = .bytes(ByteBuffer(string: body))
        return Int(try await HTTPClient.shared.execute(request, timeout: .seconds(10)).status.code)
    }

    @Test func eachSchoolsSecretAndKeyEncodingCheckItsTenant() async throws {
        let (database, _) = try TestPostgres.makeStore("serve-file")
        let folder = try temporaryFolder("serve-file").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let northSecret = Data("north secret".utf8).base64EncodedString()
        let southSecret = "south raw secret"
        for (name, text) in [("key", "k"), ("north.secret", northSecret), ("south.secret", southSecret)] {
            try text.write(toFile: "\(folder)/\(name)", atomically: true, encoding: .utf8)
        }
        try """
            defaults:
              school_code: S
              api_key_file: \(folder)/key
            schools:
              north:
                webhook_secret_file: \(folder)/north.secret
              south:
                webhook_secret_file: \(folder)/south.secret
                key_encoding: raw
            """.write(toFile: folder + "/schools.yaml", atomically: true, encoding: .utf8)
        let binary = Command.buildDirectory + "/dreamclass-reconcile"
        let log = folder + "/serve.err"
        let server = Task {
            await Command.run("/bin/sh", ["-c", #"exec "$0" serve --port 0 --config "$1" --database "$2" 2>"$3""#, binary, folder + "/schools.yaml", database.conninfo, log],
                              environment: ["DREAMCLASS_WEBHOOK_SECRET": "", "DREAMCLASS_WEBHOOK_SECRET_FILE": "", "LOG_LEVEL": "notice"])
        }
        var url = ""
        try await waitUntil("serve listens", timeout: .seconds(60), interval: .milliseconds(50)) {
            url = Command.servingURL(loggedIn: log) ?? ""
            return !url.isEmpty
        }
        let north = try WebhookSignature(secret: northSecret, encoding: .base64)
        let south = try WebhookSignature(secret: southSecret, encoding: .raw)
        let results = [
            try await Self.post(url, Self.body(tenant: "north", signature: north)),
            try await Self.post(url, Self.body(tenant: "south", signature: south)),
            // Signed with the other school's secret, or for a tenant the file does not have: refused.
            try await Self.post(url, Self.body(tenant: "north", signature: south)),
            try await Self.post(url, Self.body(tenant: "elsewhere", signature: north)),
        ]
        _ = await Command.run("/bin/sh", ["-c", #"pkill -TERM -f -- "--config $0 ""#, folder + "/schools.yaml"])
        let ended = await server.value
        let logged = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(results == [200, 200, 401, 401], "\(logged)")
        #expect(ended.status == 0 || ended.status == 143, "\(logged)")
    }
}

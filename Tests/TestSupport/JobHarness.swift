import DreamClassAPI
import DreamClassSimulator
import Foundation
import Logging
import Postgres
import ReconcileJob

/// The one set-up of the job tests: a simulated school on loopback, a client to it made from the
/// simulator's own credentials, one run of the job, everything stopped however it ends.
public enum JobHarness {
    /// The client configuration for a started simulator: its credentials, quick retries.
    public static func configuration(_ url: String, _ simulator: DreamClassSimulator, change: (inout DreamClassConfiguration) -> Void = { _ in }) -> DreamClassConfiguration {
        let settings = simulator.settings
        var configuration = DreamClassConfiguration(
            baseURL: url, apiKey: settings.apiKey, schoolCode: settings.schoolCode, tenant: settings.tenant, maxAttempts: 2,
            backoffBase: .milliseconds(5), backoffCap: .milliseconds(20)
        )
        change(&configuration)
        return configuration
    }

    /// Starts `simulator`, runs `body` with a client to it, stops both.
    public static func withClient<T: Sendable>(
        _ simulator: DreamClassSimulator, deadline: ContinuousClock.Instant? = nil,
        client change: (inout DreamClassConfiguration) -> Void = { _ in }, _ body: (DreamClassClient) async throws -> T
    ) async throws -> T {
        let url = try await simulator.start()
        do {
            let value = try await DreamClassClient.withClient(configuration: configuration(url, simulator, change: change), deadline: deadline, body)
            await simulator.stop()
            return value
        } catch {
            await simulator.stop()
            throw error
        }
    }

    /// One run of the reconcile job against `simulator`, on `connection` (its lock on a new
    /// connection to `database`).
    public static func reconcile(
        _ simulator: DreamClassSimulator, database: TestDatabase, connection: Connection, options: ReconcileJob.Options, now: Date = Date(),
        deadline: ContinuousClock.Instant? = nil, logger: Logger = Logger(label: "reconcile"),
        client change: (inout DreamClassConfiguration) -> Void = { _ in }
    ) async throws -> ReconcileJob.Outcome {
        try await withClient(simulator, deadline: deadline, client: change) { client in
            try await ReconcileJob(options: options, logger: logger).run(connection: connection, lockConnection: try database.connect(), client: client, now: now)
        }
    }
}

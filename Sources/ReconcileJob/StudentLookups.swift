import DreamClassAPI
import Logging
import Models

/// GetStudent for the students of the drift, once each, concurrently, started as soon as an id
/// is known: while the events are still being folded, not after.
///
/// The lookups run inside ``run()``, which the job awaits as a child task: when the run ends, by
/// error or cancellation, so do they; nothing outlives it.
final class StudentLookups: Sendable {
    private let stream: AsyncStream<Int>
    private let requests: AsyncStream<Int>.Continuation
    private let client: DreamClassClient
    private let logger: Logger
    private let progress: (@Sendable (RunProgress) -> Void)?

    init(client: DreamClassClient, logger: Logger, progress: (@Sendable (RunProgress) -> Void)?) {
        (stream, requests) = AsyncStream<Int>.makeStream()
        self.client = client
        self.logger = logger
        self.progress = progress
    }

    /// Asks for a student (again is free). Callable from any thread.
    func request(_ id: Int) {
        requests.yield(id)
    }

    /// Asks for the rest of `ids`; no more requests come after this.
    func finish(with ids: Set<Int>) {
        for id in ids { request(id) }
        requests.finish()
    }

    /// Looks up each student asked for until ``finish(with:)`` (or cancellation), and returns the
    /// answers. A failed lookup leaves the report's cells empty; it does not fail the run.
    func run() async -> [Int: StudentLookup] {
        await withTaskGroup(of: (Int, StudentLookup?).self) { group in
            var asked = Set<Int>()
            var found: [Int: StudentLookup] = [:]
            var status = RunProgress()
            // Requests and answers interleave: the client bounds the calls in flight.
            for await id in stream where asked.insert(id).inserted {
                status.studentsTotal = asked.count
                group.addTask { [client, logger] in
                    do { return (id, try await client.student(id: id)) } catch {
                        logger.warning("student details could not be read", metadata: ["student": "\(id)", "error": "\(error)"])
                        return (id, nil)
                    }
                }
            }
            for await (id, lookup) in group {
                if let lookup { found[id] = lookup }
                status.studentsLookedUp += 1
                progress?(status)
            }
            return found
        }
    }
}

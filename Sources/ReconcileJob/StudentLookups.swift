import DreamClassAPI
import Logging

/// GetStudent for the students of the drift, once each, concurrently, started as soon as an id
/// is known: while the events are still being folded, not after.
final class StudentLookups: Sendable {
    private let requests: AsyncStream<Int>.Continuation
    private let results: Task<[Int: StudentLookup], Never>

    init(client: DreamClassClient, logger: Logger, progress: (@Sendable (RunProgress) -> Void)?) {
        let (stream, requests) = AsyncStream<Int>.makeStream()
        self.requests = requests
        results = Task {
            await withTaskGroup(of: (Int, StudentLookup?).self) { group in
                var asked = Set<Int>()
                var found: [Int: StudentLookup] = [:]
                var status = RunProgress()
                // Requests and answers interleave: the client bounds the calls in flight.
                for await id in stream where asked.insert(id).inserted {
                    status.studentsTotal = asked.count
                    group.addTask {
                        do { return (id, try await client.student(id: id)) } catch {
                            // A failed lookup leaves the report's cells empty; it does not fail the run.
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

    deinit { requests.finish() }

    /// Asks for a student (again is free). Callable from any thread.
    func request(_ id: Int) {
        requests.yield(id)
    }

    /// Asks for the rest of `ids`, waits for every answer, and returns those of `ids`.
    func finish(with ids: Set<Int>) async -> [Int: StudentLookup] {
        for id in ids { request(id) }
        requests.finish()
        return await results.value.filter { ids.contains($0.key) }
    }
}

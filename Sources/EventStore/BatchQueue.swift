import Foundation
import Synchronization

/// A bounded hand-over of batches from the parsing thread to the writer threads.
///
/// `put` blocks while the queue is full, `take` while it is empty; after `close` (end of input)
/// or `fail` (a writer's error) both return at once.
final class BatchQueue: Sendable {
    private struct State {
        var batches: [Ingester.Batch] = []
        var closed = false
        var failed = false
    }

    private let state = Mutex(State())
    private let free: DispatchSemaphore
    private let filled = DispatchSemaphore(value: 0)
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        free = DispatchSemaphore(value: capacity)
    }

    /// Hands a batch over; `false` when a writer has failed and nothing more is wanted.
    func put(_ batch: Ingester.Batch) -> Bool {
        free.wait()
        let accepted = state.withLock { state in
            guard !state.failed else { return false }
            state.batches.append(batch)
            return true
        }
        filled.signal()
        return accepted
    }

    /// The next batch, or `nil` when the input has ended or a writer failed.
    func take() -> Ingester.Batch? {
        filled.wait()
        let batch = state.withLock { state -> Ingester.Batch? in
            guard !state.failed, !state.batches.isEmpty else { return nil }
            return state.batches.removeFirst()
        }
        if batch != nil { free.signal() } else { filled.signal() }
        return batch
    }

    /// No more batches will come.
    func close() {
        state.withLock { $0.closed = true }
        filled.signal()
    }

    /// A writer failed: wake everybody, hand out nothing more.
    func fail() {
        state.withLock { $0.failed = true }
        filled.signal()
        for _ in 0..<capacity { free.signal() }
    }
}

/// A thread that writes batches from a queue until it ends, adding up what it wrote.
final class WriterThread: Sendable {
    private let result = Mutex<Result<Ingester.Summary, any Error>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(queue: BatchQueue, write: @escaping @Sendable (Ingester.Batch, inout Ingester.Summary) throws -> Void) {
        let thread = Thread { [self] in
            var summary = Ingester.Summary()
            do {
                while let batch = queue.take() { try write(batch, &summary) }
                self.result.withLock { $0 = .success(summary) }
            } catch {
                queue.fail()
                self.result.withLock { $0 = .failure(error) }
            }
            self.done.signal()
        }
        thread.start()
    }

    /// Waits for the thread to end; rethrows its error.
    func join() throws -> Ingester.Summary {
        done.wait()
        done.signal()
        return try result.withLock { $0! }.get()
    }
}

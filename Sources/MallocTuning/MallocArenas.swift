import CMalloc
import Foundation

/// How many heap arenas glibc's allocator may keep. By default it gives threads that allocate at
/// once arenas of their own, up to eight per core, and keeps what they took: a large school's run
/// (HTTP answers, libpq reads and the fold on different threads at once) peaked at 270–314 MB,
/// against 152 MB with two arenas and no slower. Entry points that run the job call
/// ``limit(to:environment:)`` first.
public enum MallocArenas {
    /// Caps the arenas, unless `MALLOC_ARENA_MAX` is set (glibc has applied it already).
    public static func limit(to count: Int32 = 2, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard environment["MALLOC_ARENA_MAX"] == nil else { return }
        _ = mallopt(M_ARENA_MAX, count)
    }
}

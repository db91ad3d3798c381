/// How an enrollment's local state differs from DreamClass's.
public enum DriftKind: String, Sendable, CaseIterable, Codable, Comparable {
    /// DreamClass has it; no event for it was ever stored.
    case missedCreate = "missed_create"
    /// Both have it, and `studentId`, `active` or `addedAt` differ.
    case missedUpdate = "missed_update"
    /// It exists locally but no longer in DreamClass: its delete never arrived.
    case missedDelete = "missed_delete"
    /// Locally deleted, yet DreamClass still has it.
    case staleDelete = "stale_delete"

    /// The report's order: creates, updates, deletes, stale deletes.
    public static func < (a: DriftKind, b: DriftKind) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }
}

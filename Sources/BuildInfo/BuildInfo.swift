import Foundation

/// What a binary says of itself with `--version`: the release (the `VERSION` file), the commit
/// it was built from, and whether the Swift runtime is inside it (a release build, which runs
/// where no Swift toolchain is installed) or loaded from the toolchain's libraries.
public enum BuildInfo {
    /// The release version, from the package's `VERSION` file.
    public static let version = EmbeddedVersion.version
    /// The commit built, its first 12 hex digits; `nil` for a build from a source tree that is
    /// not a git clone.
    public static let commit = EmbeddedVersion.commit

    /// Whether the Swift runtime is linked into the binary (`--static-swift-stdlib`): no
    /// `libswiftCore.so` is mapped into the process.
    public static var swiftRuntimeIsStatic: Bool {
        // Read to the end: a /proc file says its size is 0, which a whole-file read believes.
        guard let data = FileHandle(forReadingAtPath: "/proc/self/maps")?.readDataToEndOfFile(), !data.isEmpty else { return false }
        return !String(decoding: data, as: UTF8.self).contains("libswiftCore.so")
    }

    /// `0.9.0 (commit 1a2b3c4d5e6f, Swift runtime linked statically)`.
    public static var line: String {
        "\(version) (commit \(commit ?? "unknown"), Swift runtime \(swiftRuntimeIsStatic ? "linked statically" : "from the shared libraries of the Swift toolchain"))"
    }
}

import FileOutput
import Foundation
import Testing

/// Files replaced whole, private by default, and writes that fail as errors.
@Suite struct OutputFileTests {
    static func folder() -> String {
        NSTemporaryDirectory() + "output-\(UUID().uuidString)"
    }

    static func mode(_ path: String) throws -> Int {
        try #require(FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test func aReportAndTheFoldersMadeForItArePrivateWhateverTheUmask() throws {
        let root = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let previous = umask(0o022)
        defer { umask(previous) }
        let path = root + "/reports/2026-12-02/drift.csv"
        try OutputFile.write("run_id,tenant\r\n", to: path)
        #expect(try Self.mode(path) == 0o600)
        #expect(try Self.mode(root + "/reports/2026-12-02") == 0o700)
        #expect(try Self.mode(root + "/reports") == 0o700)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "run_id,tenant\r\n")

        // An odd umask takes nothing away either, and a file meant to be shared gets its mode.
        umask(0o277)
        try OutputFile.write("again", to: path)
        #expect(try Self.mode(path) == 0o600)
        try OutputFile.write("metrics", to: root + "/metrics.prom", mode: 0o644)
        #expect(try Self.mode(root + "/metrics.prom") == 0o644)
    }

    @Test func aFullDiskFailsTheWriteAndKeepsTheGoodReport() throws {
        // A small file system of its own (tmpfs) to fill; the tests run as root in CI.
        let root = Self.folder()
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(system("mount -t tmpfs -o size=64k tmpfs '\(root)'") == 0, "mounting a tmpfs needs root")
        defer { _ = system("umount '\(root)'") }
        let path = root + "/drift.csv"
        try OutputFile.write("the good report\n", to: path)
        let error = #expect(throws: OutputError.self) {
            try OutputFile.write(String(repeating: "x", count: 200_000), to: path)
        }
        #expect(error?.description == "cannot write to \(path): \(String(cString: strerror(ENOSPC))) (free space there, or write elsewhere)")
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "the good report\n")
        // Nothing is left behind beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["drift.csv"])
    }

    @Test func writingReplacesAFileWhole() throws {
        let root = Self.folder()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try OutputFile.write("first\r\n", to: root + "/r.csv")
        try OutputFile.write("second\r\n", to: root + "/r.csv")
        #expect(try String(contentsOfFile: root + "/r.csv", encoding: .utf8) == "second\r\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root) == ["r.csv"])
    }

    @Test func aDeviceIsWrittenIntoNeverRenamedOverAndItsErrorsReported() throws {
        try OutputFile.write("discarded", to: "/dev/null")
        #expect(try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType == .typeCharacterSpecial)
        let error = #expect(throws: OutputError.self) { try OutputFile.write("no room", to: "/dev/full") }
        #expect(error?.description.hasPrefix("cannot write to /dev/full") == true)
    }

    @Test func aFolderThatCannotBeMadeIsAnErrorNamingIt() throws {
        let root = Self.folder()
        FileManager.default.createFile(atPath: root, contents: Data("a file, not a folder".utf8))
        defer { try? FileManager.default.removeItem(atPath: root) }
        let error = #expect(throws: OutputError.self) { try OutputFile.write("x", to: root + "/reports/drift.csv") }
        #expect(error?.path == root + "/reports")
    }
}

import Foundation

/// A new, empty folder under the system's temporary folder, for one test: the one way tests make
/// one, so a failed test's leftovers are found by their label.
public func temporaryFolder(_ label: String) throws -> URL {
    let folder = FileManager.default.temporaryDirectory.appending(path: "\(label)-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    return folder
}

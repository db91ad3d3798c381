import Foundation

/// Writes a whole file so that a reader sees the old one or the new one, never half: a temporary
/// file beside it, then `rename(2)`. The temporary file is created with its final mode (`0600` by
/// default: reports hold students' names and e-mails), set at creation and again with `fchmod`,
/// whatever the umask; a folder the write has to create gets `0700` (or the folder mode asked
/// for: metrics are read by another user), also whatever the umask. A failure at any step (a
/// full disk, a missing permission) throws, and the old file stays as it was.
public enum OutputFile {
    /// Writes `text` to `path`; `-` is standard output. A device or a FIFO (`/dev/null`, a pipe)
    /// is written into, never renamed over: as root, a rename would replace `/dev/null` itself.
    public static func write(_ text: String, to path: String, mode: mode_t = 0o600, folderMode: mode_t = 0o700) throws(OutputError) {
        let bytes = Array(text.utf8)
        if path == "-" {
            try writeAll(bytes, to: 1, path: "<stdout>")
            return
        }
        var status = stat()
        if stat(path, &status) == 0, status.st_mode & S_IFMT != S_IFREG {
            let descriptor = open(path, O_WRONLY | O_CLOEXEC)
            guard descriptor >= 0 else { throw OutputError(path: path, operation: "open", code: errno) }
            defer { close(descriptor) }
            try writeAll(bytes, to: descriptor, path: path)
            return
        }
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent()
        try createFolder(folder.path, mode: folderMode)
        let temporary = folder.appending(path: ".\(url.lastPathComponent).\(UUID().uuidString).tmp").path
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard descriptor >= 0 else { throw OutputError(path: path, operation: "create a file beside", code: errno) }
        do throws(OutputError) {
            guard fchmod(descriptor, mode) == 0 else { throw OutputError(path: path, operation: "set the mode of", code: errno) }
            try writeAll(bytes, to: descriptor, path: path)
            // The data is on disk before the name points at it: a crash never leaves an empty report.
            guard fsync(descriptor) == 0 else { throw OutputError(path: path, operation: "flush", code: errno) }
            guard close(descriptor) == 0 else {
                unlink(temporary)
                throw OutputError(path: path, operation: "close", code: errno)
            }
        } catch {
            close(descriptor)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw OutputError(path: path, operation: "rename into", code: code)
        }
    }

    /// Creates `path` and its missing parents, each with `mode` exactly (the umask would narrow
    /// what `mkdir` asks for).
    static func createFolder(_ path: String, mode: mode_t) throws(OutputError) {
        var status = stat()
        if path.isEmpty || stat(path, &status) == 0 { return }
        let parent = URL(fileURLWithPath: path).deletingLastPathComponent().path
        if parent != path { try createFolder(parent, mode: mode) }
        if mkdir(path, mode) != 0 {
            guard errno == EEXIST else { throw OutputError(path: path, operation: "create the folder", code: errno) }
            return
        }
        guard chmod(path, mode) == 0 else { throw OutputError(path: path, operation: "set the mode of the folder", code: errno) }
    }
}

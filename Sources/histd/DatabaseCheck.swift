import Foundation
import HistModel
import HistStore

#if canImport(Glibc)
import Glibc
#endif

/// `histd check`'s look at the history database: could `histd run` open (or create) it and write it?
/// Read-only: it never creates, migrates or switches the file to WAL (a file histd refuses stays
/// byte-identical, and a missing one stays missing).
enum DatabaseCheck {
    /// nil when the database can be used; otherwise why not (without the path, which the caller names).
    static func problem(path: String) -> String? {
        var st = stat()
        if stat(path, &st) == 0 {
            if (st.st_mode & S_IFMT) == S_IFDIR { return "is a directory, not a database file" }
            if access(path, R_OK | W_OK) != 0 { return "cannot be written: \(String(cString: strerror(errno)))" }
            if st.st_size > 0 {
                do {
                    let q = try HistoryDatabase.openReadOnly(path: path, allowNewerSchema: false)
                    try? q.close()
                } catch let error as HistoryStoreError {
                    return error.message
                } catch {
                    return "cannot open: \(error)"
                }
            }
            return full(folder: (path as NSString).deletingLastPathComponent)
        }
        let err = errno
        guard err == ENOENT else { return "cannot access: \(String(cString: strerror(err)))" }
        // Missing: `histd run` creates it (and its folders) in the nearest folder that exists.
        var folder = (path as NSString).deletingLastPathComponent
        while !folder.isEmpty, folder != "/", stat(folder, &st) != 0 { folder = (folder as NSString).deletingLastPathComponent }
        if folder.isEmpty { folder = "." }
        if (st.st_mode & S_IFMT) != S_IFDIR { return "cannot be created: \(folder) is not a directory" }
        if access(folder, W_OK | X_OK) != 0 { return "cannot be created in \(folder): \(String(cString: strerror(errno)))" }
        return full(folder: folder)
    }

    /// A file system with no free block: SQLite could not write a page.
    static func full(folder: String) -> String? {
        var vfs = statvfs()
        guard statvfs(folder.isEmpty ? "." : folder, &vfs) == 0 else { return nil }
        return vfs.f_bavail == 0 ? "cannot be written: the file system holding \(folder.isEmpty ? "." : folder) is full" : nil
    }
}

/// The one rule that turns a school's or tenant's name into part of a file name, used by every
/// file the product names (reports, metrics) and by the nightly wrapper (through `config schools
/// --file-names`): letters, digits, `-` and `_` stay, anything else (`/`, `.`, spaces, quotes)
/// becomes `_`, so a name can never leave the folder it is written into.
public enum FileName {
    /// The file-name part for `name`; `_` for an empty one, at most 100 characters.
    public static func part(_ name: String) -> String {
        let safe = String(name.prefix(100).map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        return safe.isEmpty ? "_" : safe
    }
}

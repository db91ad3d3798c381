import Foundation

/// An http(s) URL a setting names (DreamClass's base URL, the backfill's endpoint, a ping URL),
/// checked where it enters: NIO traps on a port above 65535, so nothing reaches the HTTP stack
/// that was not checked here first.
public enum EndpointURL {
    /// What such a setting takes, for error messages.
    public static let expected = "an http:// or https:// URL with a host, and a port from 1 to 65535 if any"

    /// Why `text` is not a usable http(s) URL, or `nil` when it is. The answer never repeats
    /// the URL, which may carry a token.
    public static func problem(_ text: String) -> String? {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased() else {
            return "is not a URL (expected \(expected))"
        }
        guard scheme == "http" || scheme == "https" else { return "must start with http:// or https://" }
        guard let host = components.host, !host.isEmpty else { return "names no host" }
        if let port = components.port, !(1...65_535).contains(port) { return "has port \(port), outside 1 to 65535" }
        // URLComponents leaves `port` nil for a ":" it cannot read as a number; the text decides.
        if components.port == nil, let authority = text.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first,
           authority.split(separator: "@").last?.contains(":") == true, !host.contains(":") {
            return "has a port that is not a number from 1 to 65535"
        }
        return nil
    }
}

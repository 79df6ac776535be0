import HistModel

/// One reply line. `result` is a stable word scripts match on; `message` is for people.
public struct ControlReply: Sendable, Error {
    public var id: String?
    public var ok: Bool
    public var result: String
    public var message: String
    /// Extra members, already encoded (`"units":[...]`), appended in order.
    public var members: [(String, String)] = []

    public init(id: String?, ok: Bool, result: String, message: String, members: [(String, String)] = []) {
        self.id = id
        self.ok = ok
        self.result = result
        self.message = message
        self.members = members
    }

    public static func error(id: String?, _ result: String, _ message: String) -> ControlReply {
        ControlReply(id: id, ok: false, result: result, message: message)
    }

    /// The reply as one line of JSON, newline included.
    public var line: [UInt8] {
        var s = "{\"v\":\(ControlRequest.version)"
        if let id { s += ",\"id\":\(id)" }
        s += ",\"ok\":\(ok),\"result\":\(QuotedJSON.quote(result)),\"message\":\(QuotedJSON.quote(message))"
        for (k, v) in members { s += ",\(QuotedJSON.quote(k)):\(v)" }
        s += "}\n"
        return Array(s.utf8)
    }
}

/// JSON string quoting (the one quoting function, `QuotedString`, from HistModel).
enum QuotedJSON {
    static func quote(_ s: String) -> String { QuotedString.quote(s) }
}

/// The SQL files compiled into this module (see Plugins/EmbedSQL).
public enum BundledSQL {
    /// `migrations/*.sql`, sorted by name.
    public static var migrations: [(name: String, sql: String)] { EmbeddedSQL.migrations }
    /// `queries/*.sql`, sorted by name.
    public static var queries: [(name: String, sql: String)] { EmbeddedSQL.queries }
    /// The text of `queries/NAME.sql`.
    public static func query(_ name: String) -> String? {
        EmbeddedSQL.queries.first(where: { $0.name == name + ".sql" || $0.name == name })?.sql
    }
}

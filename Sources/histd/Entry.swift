@main
struct Main { static func main() { print("histd: not built yet") } }

@main
struct Main { static func main() { print("histbench: not built yet") } }

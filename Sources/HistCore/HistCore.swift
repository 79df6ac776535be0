// HistCore

// HistConfig

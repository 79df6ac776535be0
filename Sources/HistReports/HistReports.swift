// HistReports

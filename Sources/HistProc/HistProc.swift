// HistProc

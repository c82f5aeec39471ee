"""Agent trace scorers: execution-failure detection, the learned step judge, local and
end-to-end scores, pass^k and failure attribution. Plain Python; no Django imports."""

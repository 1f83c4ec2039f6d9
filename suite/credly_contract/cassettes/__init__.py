"""Cassettes: the vcrpy session of the scenario suite (vcr_session), a recording's description
(target_file), the record and replay commands (commands) and the comparison of two recordings (diff)."""

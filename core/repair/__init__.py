"""Repair: give the user back the clips whose bytes still hold footage.

One module per strategy, cheapest first, each tried only where the scan's
evidence fits (`evidence`): `remux` (a fresh container, a broken audio track
dropped), `trim` (the decodable footage, by stream copy), `rebuild_index`
(an MP4/MOV cut before its index: pictures walked out of `mdat` with a
reference clip's decoder configuration, `reference` picks it; `h264`/`hevc`
parse the headers). `engine` writes each candidate into a staging folder and
keeps it only if the scan engine verifies it at `full`; `apply` puts kept
candidates in place through the quarantine journal (the original goes into
`corrupted_videos/`, `nexara restore` undoes it). Nothing is re-encoded and
nothing is invented: no frame is interpolated, no damage painted over.
"""

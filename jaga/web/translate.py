"""Indonesian for the sentences jaga builds at run time: disk reasons, target down reasons, alert
summaries and subjects, readiness reasons, SMART coverage.

Those sentences are made in English where they arise (monitor/verdict.py, monitor/conditions.py,
replication/, jaga/web/health.py): the CLI, logs and notifications speak English. The status page
translates them here, pattern by pattern; a part that is itself a message (an OS error, a reason in
a list) is translated in turn. ``tests/test_i18n.py`` reads every such f-string from the source and
fails when one has no pattern, so a new message cannot slip onto the Indonesian page in English.
"""

from __future__ import annotations

import re

# (pattern over the whole English sentence, Indonesian template); {name} is a group, translated
# again when its name ends in _msg, a duration when it ends in _dur.
PATTERNS: list[tuple[str, str]] = [
    # -- disk verdicts (monitor/verdict.py) --
    (r"overall SMART self-assessment: FAILED", "penilaian mandiri SMART keseluruhan: GAGAL"),
    (r"SCSI health status: (?P<s>.+) \(not OK\)", "status kesehatan SCSI: {s} (tidak OK)"),
    (r"(?P<a>.+) failing now: value (?P<v>.+) <= threshold (?P<t>.+) \(raw (?P<r>.+)\)",
     "{a} sedang gagal: nilai {v} <= ambang {t} (mentah {r})"),
    (r"(?P<a>.+) failed in the past: worst (?P<w>.+) <= threshold (?P<t>.+)",
     "{a} pernah gagal: terburuk {w} <= ambang {t}"),
    (r"(?P<a>.+) = (?P<v>.+) \(a healthy disk has 0\)", "{a} = {v} (disk sehat bernilai 0)"),
    (r"NVMe critical warning (?P<x>0x\w+|.+?): (?P<bits_msg>.+)", "peringatan kritis NVMe {x}: {bits_msg}"),
    (r"available spare (?P<s>.+)% below its threshold (?P<t>.+)%", "cadangan tersedia {s}% di bawah ambangnya {t}%"),
    (r"endurance used (?P<u>.+)% \(>= (?P<t>.+)%\)", "ketahanan terpakai {u}% (>= {t}%)"),
    (r"NVMe media and data integrity errors reads (?P<e>.+), an implausible value \(firmware fault\?\): "
     r"this drive's error counter cannot be trusted",
     "galat media dan integritas data NVMe terbaca {e}, nilai yang mustahil (cacat firmware?): penghitung "
     "galat drive ini tidak dapat dipercaya"),
    (r"NVMe media and data integrity errors: (?P<e>.+) \(a healthy drive has 0\)",
     "galat media dan integritas data NVMe: {e} (drive sehat bernilai 0)"),
    (r"SCSI grown defect list: (?P<n>.+) elements \(a healthy disk has 0\)",
     "daftar cacat bertambah SCSI: {n} elemen (disk sehat bernilai 0)"),
    (r"temperature (?P<t>.+) °C \(>= (?P<l>.+) °C\)", "suhu {t} °C (>= {l} °C)"),
    (r"self-test failed: (?P<d>.+) '(?P<s>.+)'(?P<where_msg>.*) and no newer extended test passed",
     "uji mandiri gagal: {d} '{s}'{where_msg} dan belum ada uji lengkap yang lebih baru yang lulus"),
    (r"(?P<n>\S+) failed since the last passing extended test",
     "{n} gagal sejak uji lengkap terakhir yang lulus"),
    (r"(?P<n>\S+) earlier self-tests failed \((?P<s>.+)\)", "{n} uji mandiri sebelumnya gagal ({s})"),
    (r"a newer extended test passed(?P<where_msg>.*)", "uji lengkap yang lebih baru lulus{where_msg}"),
    (r" at (?P<h>[^,]+) h(?P<rest>.*)", " pada jam ke-{h}{rest}"),
    (r"smartctl exit status: SMART status check returned DISK FAILING",
     "status keluar smartctl: pemeriksaan status SMART menyatakan DISK GAGAL"),
    (r"smartctl exit status: a prefail attribute is at or below its threshold",
     "status keluar smartctl: atribut pra-gagal berada pada atau di bawah ambangnya"),
    (r"smartctl exit status: an attribute was at or below its threshold in the past",
     "status keluar smartctl: sebuah atribut pernah berada pada atau di bawah ambangnya"),
    (r"smartctl exit status: the self-test log has errors", "status keluar smartctl: log uji mandiri berisi galat"),
    (r"(?P<c>.+) rose to (?P<now>\S+) \(was (?P<was>\S+) (?P<ago_dur>\S+) ago\)",
     "{c} naik menjadi {now} (sebelumnya {was}, {ago_dur} yang lalu)"),
    (r"(?P<c>.+) rose to (?P<now>\S+) \(was (?P<was>\S+)\)", "{c} naik menjadi {now} (sebelumnya {was})"),
    # NVMe critical warning bits
    (r"available spare below threshold", "cadangan tersedia di bawah ambang"),
    (r"temperature outside its thresholds", "suhu di luar ambangnya"),
    (r"reliability degraded by media or internal errors", "keandalan menurun karena galat media atau internal"),
    (r"media placed in read-only mode", "media dialihkan ke mode hanya-baca"),
    (r"volatile memory backup failed", "cadangan memori volatil gagal"),
    (r"persistent memory region unreliable", "wilayah memori persisten tidak andal"),
    (r"reserved bits", "bit cadangan"),
    # -- SMART read errors (monitor/smartctl.py, monitor/readers.py, monitor/smart.py) --
    (r"smartctl not found: (?P<p>.+) \(install smartmontools or set monitor\.smart\.smartctl\)",
     "smartctl tidak ditemukan: {p} (pasang smartmontools atau atur monitor.smart.smartctl)"),
    (r"cannot run (?P<p>.+): (?P<e_msg>.+)", "tidak dapat menjalankan {p}: {e_msg}"),
    (r"smartctl (?P<a>.+) ran over (?P<s>\S+) and was killed", "smartctl {a} berjalan lebih dari {s} dan dihentikan"),
    (r"vanished from the smartctl scan \(last seen as (?P<m>.+) serial (?P<s>.+)\)",
     "hilang dari pemindaian smartctl (terakhir terlihat sebagai {m} nomor seri {s})"),
    (r"cannot read the device: smartctl exit status (?P<n>\S+) \((?P<m>.*)\); (?P<why_msg>.+)",
     "perangkat tidak dapat dibaca: status keluar smartctl {n} ({m}); {why_msg}"),
    (r"(?P<why_msg>.+); smartctl could not read it \((?P<m>.*)\)", "{why_msg}; smartctl tidak dapat membacanya ({m})"),
    (r"pySMART could not identify the device", "pySMART tidak dapat mengenali perangkat"),
    (r"pySMART: (?P<e>.+)", "pySMART: {e}"),
    (r"the disk does not answer: (?P<r_msg>.+)", "disk tidak menjawab: {r_msg}"),
    (r"SMART cannot be read: (?P<e_msg>.+)", "SMART tidak dapat dibaca: {e_msg}"),
    # -- alert summaries (monitor/conditions.py) --
    (r"(?P<m>.+) is mounted read-only: nothing can be written",
     "{m} dipasang hanya-baca: tidak ada yang dapat ditulis"),
    (r"at the recent rate it is full in (?P<t_dur>.+)", "dengan laju saat ini penuh dalam {t_dur}"),
    (r"(?P<r>\S+) space free \((?P<d>.+) GiB\)", "{r} ruang kosong ({d} GiB)"),
    (r"(?P<r>\S+) inodes free \((?P<d>.+) inodes\)", "{r} inode kosong ({d} inode)"),
    (r"(?P<r>\S+) (?P<w>.+) free \((?P<d>.+)\)", "{r} {w} kosong ({d})"),
    (r"replica target (?P<n>.+) is down; (?P<c>.+) files wait", "target replika {n} mati; {c} berkas menunggu"),
    (r"the oldest of (?P<c>.+) pending files has waited (?P<t_dur>.+)",
     "berkas tertua dari {c} berkas yang menunggu sudah menunggu {t_dur}"),
    (r"(?P<n>.+) replication errors in a row", "{n} kegagalan replikasi berturut-turut"),
    (r"the scrub found (?P<m>.+) missing and (?P<c>.+) corrupt replica\(s\)",
     "pemeriksaan menemukan {m} replika hilang dan {c} replika rusak"),
    (r"run `jaga verify --target (?P<t>.+) --repair`", "jalankan `jaga verify --target {t} --repair`"),
    (r"stop jaga and run `jaga verify --target (?P<t>.+) --repair`",
     "hentikan jaga lalu jalankan `jaga verify --target {t} --repair`"),
    # -- alert subjects --
    (r"SMART", "SMART"),
    (r"disk (?P<d>\S+) \((?P<m>.+), serial (?P<s>.+)\)", "disk {d} ({m}, nomor seri {s})"),
    (r"target (?P<t>\S+)", "target {t}"),
    (r"(?P<p>.+) \((?P<l>[^,]+), on (?P<b>[^,]+), disk (?P<d>.+)\)", "{p} ({l}, di {b}, disk {d})"),
    (r"(?P<p>.+) \((?P<l>[^,]+), on (?P<b>[^,]+)\)", "{p} ({l}, di {b})"),
    # -- targets down (replication/) --
    (r"not checked yet", "belum diperiksa"),
    (r"the marker file (?P<m>.+) is unreadable: (?P<e_msg>.+)", "berkas penanda {m} tidak dapat dibaca: {e_msg}"),
    (r"marker (?P<m>.+) is missing at the target root: is the disk mounted\? \(nothing is written until it is "
     r"back; `jaga init-target` re-initialises\)",
     "penanda {m} tidak ada di akar target: apakah disknya terpasang? (tidak ada yang ditulis sampai kembali; "
     "`jaga init-target` menyiapkan ulang)"),
    (r"marker (?P<m>.+) belongs to a different target \(id (?P<i>.+), journal expects (?P<e>.+)\): another disk "
     r"at the mount point\? nothing is written",
     "penanda {m} milik target lain (id {i}, jurnal mengharapkan {e}): disk lain di titik kait? tidak ada yang "
     "ditulis"),
    (r"the target's identity was never proven \(no marker id to compare\): nothing is written",
     "identitas target belum pernah dibuktikan (tidak ada id penanda untuk dibandingkan): tidak ada yang ditulis"),
    (r"the target root (?P<r>.+) no longer leads to the folder whose marker was proven \(renamed, or another disk "
     r"mounted there\): nothing is written until it is back",
     "akar target {r} tidak lagi mengarah ke folder yang penandanya sudah dibuktikan (diganti nama, atau disk lain "
     "dipasang di sana): tidak ada yang ditulis sampai folder itu kembali"),
    (r"target root (?P<r>.+) cannot be opened: (?P<e_msg>.+)", "akar target {r} tidak dapat dibuka: {e_msg}"),
    (r"target (?P<t>\S+) holds marker (?P<m>\S+), the journal knows (?P<e>\S+): a different disk\? "
     r"\(`jaga init-target --force` if it is the new one\)",
     "target {t} berisi penanda {m}, jurnal mengenal {e}: disk lain? (`jaga init-target --force` jika itu disk "
     "yang baru)"),
    (r"the journal has not met this target yet", "jurnal belum pernah bertemu target ini"),
    (r"not recorded: (?P<e_msg>.+)", "tidak dicatat: {e_msg}"),
    (r"the root holds the marker of target (?P<a>.+), not (?P<b>.+)", "akar berisi penanda target {a}, bukan {b}"),
    (r"target root (?P<r>.+) does not exist", "akar target {r} tidak ada"),
    (r"cannot read the key file (?P<k>.+)", "berkas kunci {k} tidak dapat dibaca"),
    (r"cannot read known_hosts (?P<k>.+): (?P<e_msg>.+)", "known_hosts {k} tidak dapat dibaca: {e_msg}"),
    (r"host key of (?P<w>.+) is not in (?P<k>.+) \((?P<t>.+)\); jaga never accepts unknown keys: check the "
     r"fingerprint and add it to that file",
     "kunci host {w} tidak ada di {k} ({t}); jaga tidak pernah menerima kunci yang tidak dikenal: periksa "
     "sidik jarinya lalu tambahkan ke berkas itu"),
    (r"host key of (?P<w>.+) CHANGED: known_hosts (?P<k>.+) expects (?P<e>.+), the server offered (?P<o>.+); "
     r"refusing to connect",
     "kunci host {w} BERUBAH: known_hosts {k} mengharapkan {e}, server menawarkan {o}; koneksi ditolak"),
    (r"(?P<u>[^@\s]+)@(?P<w>\S+) refused the key (?P<k>.+): (?P<e>.+)", "{u}@{w} menolak kunci {k}: {e}"),
    (r"cannot connect to (?P<w>.+?): (?P<e_msg>.+)", "tidak dapat terhubung ke {w}: {e_msg}"),
    (r"(?P<w>.+): (?P<s>.+) unreachable: (?P<e>.+)", "{w}: {s} tidak terjangkau: {e}"),
    (r"(?P<w>.+): no usable credentials for (?P<s>.+) \(environment, profile or credentials_file\): (?P<e>.+)",
     "{w}: tidak ada kredensial yang dapat dipakai untuk {s} (environment, profil atau credentials_file): {e}"),
    (r"cannot read (?P<p>.+): (?P<e_msg>.+)", "{p} tidak dapat dibaca: {e_msg}"),
    (r"target (?P<t>[^:\s]+): (?P<e>.+)", "target {t}: {e}"),
    # -- readiness (jaga/web/health.py, monitor/service.py) --
    (r"journal not writable: (?P<e>.+)", "jurnal tidak dapat ditulis: {e}"),
    (r"no replica target is up: (?P<list_msg>[\s\S]+)", "tidak ada target replika yang aktif: {list_msg}"),
    (r"(?P<p>.+) is on a read-only filesystem \((?P<m>.+)\)", "{p} berada di sistem berkas hanya-baca ({m})"),
    (r"(?P<p>.+) is nearly full \((?P<r>.+) free\)", "{p} hampir penuh ({r} kosong)"),
    (r"(?P<p>.+) is on disk (?P<d>\S+), judged failing: (?P<r_msg>.+)", "{p} berada di disk {d}, dinilai rusak: {r_msg}"),
    (r"(?P<n>[A-Za-z0-9][A-Za-z0-9_.-]*): (?P<r_msg>.+)", "{n}: {r_msg}"),
    # -- the listener's own warning (jaga/web/server.py exposure_warning) --
    (r"the listener on (?P<w>.+) is reachable beyond this machine",
     "pendengar di {w} dapat dijangkau dari luar mesin ini"),
    (r"(?P<w_msg>.+) without TLS or authentication; set metrics\.web_config \(see docs/monitoring\.md\)",
     "{w_msg} tanpa TLS atau autentikasi; atur metrics.web_config (lihat docs/monitoring.md)"),
    (r"(?P<w_msg>.+) without authentication; add basic_auth_users or client_ca_file to (?P<f>.+)",
     "{w_msg} tanpa autentikasi; tambahkan basic_auth_users atau client_ca_file ke {f}"),
    # -- OS errors that end many of the above --
    (r"No such file or directory", "berkas atau folder tidak ada"),
    (r"Permission denied", "akses ditolak"),
    (r"Operation not permitted", "operasi tidak diizinkan"),
    (r"Read-only file system", "sistem berkas hanya-baca"),
    (r"No space left on device", "ruang disk habis"),
    (r"Input/output error", "galat masukan/keluaran"),
    (r"Connection refused", "koneksi ditolak"),
    (r"Connection reset by peer", "koneksi diputus oleh pihak lain"),
    (r"No route to host", "tidak ada rute ke host"),
    (r"Network is unreachable", "jaringan tidak terjangkau"),
    (r"timed out", "waktu habis"),
    # tails of the sentences above that hold "; " themselves, when a list was split around them
    (r"jaga never accepts unknown keys: check the fingerprint and add it to that file",
     "jaga tidak pernah menerima kunci yang tidak dikenal: periksa sidik jarinya lalu tambahkan ke berkas itu"),
    (r"the server offered (?P<o>.+)", "server menawarkan {o}"),
    (r"refusing to connect", "koneksi ditolak"),
    (r"`jaga init-target` re-initialises\)", "`jaga init-target` menyiapkan ulang)"),
    (r"the connection closed \(server gone, or the link timed out\)",
     "koneksi tertutup (server hilang, atau tautan kehabisan waktu)"),
]
NO_SPLIT = "(?:(?!; ).)"   # a group never spans "; ": that joins separate sentences


def _compile(pattern: str) -> re.Pattern:
    for wildcard, bounded in ((".+?", NO_SPLIT + "+?"), (".+", NO_SPLIT + "+"), (".*", NO_SPLIT + "*")):
        pattern = pattern.replace(wildcard, bounded)
    return re.compile(pattern + r"\Z", re.DOTALL)


COMPILED = [(_compile(pattern), template) for pattern, template in PATTERNS]
DURATION_UNITS = {"d": " hari ", "h": " jam ", "m": " menit ", "s": " detik "}


def to_indonesian(text: str) -> str:
    """The sentence in Indonesian; when no pattern takes it whole, its '; '-parts one by one."""
    matched = _match(text)
    if matched is not None:
        return _render(*matched)
    parts = text.split("; ")
    if len(parts) == 1:
        return text   # unknown: English beats nothing (tests/test_i18n.py keeps PATTERNS complete)
    return "; ".join(to_indonesian(part) for part in parts)


def knows(text: str) -> bool:
    """Whether a pattern takes ``text`` whole, or each of its '; '-parts (for tests)."""
    if text == "" or _match(text) is not None:
        return True
    parts = text.split("; ")
    return len(parts) > 1 and all(knows(part) for part in parts)


def duration_id(text: str) -> str:
    """``1h2m5s`` (common.units.format_duration) → ``1 jam 2 menit 5 detik``."""
    if not re.fullmatch(r"(\d+(\.\d+)?[dhms])+", text):
        return text
    words = re.sub(r"(\d+(?:\.\d+)?)([dhms])", lambda m: m.group(1) + DURATION_UNITS[m.group(2)], text)
    return " ".join(words.split())


LIST_ITEM = re.compile(r"; (?=[A-Za-z0-9][A-Za-z0-9_.-]*: )")


def _named(item: str) -> str:
    name, sep, reason = item.partition(": ")
    return f"{name}{sep}{to_indonesian(reason)}" if sep else to_indonesian(item)


def _match(text: str):
    for pattern, template in COMPILED:
        found = pattern.match(text)
        if found:
            return found, template
    return None


def _render(found: re.Match, template: str) -> str:
    values = {}
    for name, value in found.groupdict().items():
        value = value or ""
        if name == "bits_msg":
            value = ", ".join(to_indonesian(item) for item in value.split(", "))
        elif name == "list_msg":   # "name: reason; name: reason", a reason may hold "; " itself
            value = "; ".join(_named(item) for item in LIST_ITEM.split(value))
        elif name.endswith("_msg") and value:
            value = to_indonesian(value)
        elif name.endswith("_dur"):
            value = duration_id(value)
        values[name] = value
    return template.format(**values)

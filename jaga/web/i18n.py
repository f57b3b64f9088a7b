"""The status page's words, in English and Indonesian (`ui.language: en | id | auto`), its dates, and
the choice of language from the browser's Accept-Language when the config says auto. The sentences
jaga builds at run time (reasons, summaries) are translated in jaga.web.translate."""

from __future__ import annotations

import time

from jaga.web.translate import duration_id, to_indonesian

LANGUAGES = ("en", "id")
MONTHS = {"id": ["Jan", "Feb", "Mar", "Apr", "Mei", "Jun", "Jul", "Agu", "Sep", "Okt", "Nov", "Des"]}

TEXT = {
    "en": {
        "title": "jaga status", "all_good": "All uploads are protected", "attention": "Needs attention",
        "alerts": "Alerts", "no_alerts": "No alerts firing", "since": "since",
        "disks": "Disks", "device": "Disk", "model": "Model", "health": "Health", "temperature": "Temp.",
        "reasons": "Reasons",
        "filesystems": "Folders and space", "path": "Folder", "free": "free", "readonly": "read-only",
        "targets": "Replica targets", "target": "Target", "state": "State", "up": "up", "down": "down",
        "pending": "Pending", "oldest": "Oldest pending", "failed": "Failed", "last_scrub": "Last scrub",
        "never": "never", "damage": "damage found",
        "fleet": "Servers sharing the journal", "node": "Server", "heartbeat": "Last heartbeat",
        "running": "running", "silent": "silent", "stopped": "stopped",
        "intake": "Intake", "today": "Today", "week": "Last 7 days", "files": "files",
        "safe": "safe on every target", "updated": "Updated", "refresh": "refreshes every 15 s",
        "ok": "ok", "warning": "warning", "failing": "failing", "unknown": "unknown",
        "ready": "Accepting uploads", "not_ready": "Not ready for uploads",
        "critical": "critical", "info": "info",
        "coverage": "No SMART coverage", "coverage_intro": "These folders are on disks jaga cannot watch:",
        "smart_pending": "Waiting for the first SMART poll",
        "target_down": "target {name} is down", "disk_bad": "disk {name} is {health}",
        "fs_readonly": "{path} is read-only",
        "exposed": "This page is open to the network without TLS or a password",
    },
    "id": {
        "title": "status jaga", "all_good": "Semua unggahan terlindungi", "attention": "Perlu perhatian",
        "alerts": "Peringatan", "no_alerts": "Tidak ada peringatan aktif", "since": "sejak",
        "disks": "Disk", "device": "Disk", "model": "Model", "health": "Kesehatan", "temperature": "Suhu",
        "reasons": "Alasan",
        "filesystems": "Folder dan ruang", "path": "Folder", "free": "kosong", "readonly": "hanya-baca",
        "targets": "Target replika", "target": "Target", "state": "Keadaan", "up": "aktif", "down": "mati",
        "pending": "Menunggu", "oldest": "Antrean tertua", "failed": "Gagal", "last_scrub": "Pemeriksaan terakhir",
        "never": "belum pernah", "damage": "ada kerusakan",
        "fleet": "Server yang berbagi jurnal", "node": "Server", "heartbeat": "Detak terakhir",
        "running": "berjalan", "silent": "diam", "stopped": "berhenti",
        "intake": "Berkas masuk", "today": "Hari ini", "week": "7 hari terakhir", "files": "berkas",
        "safe": "aman di semua target", "updated": "Diperbarui", "refresh": "diperbarui tiap 15 detik",
        "ok": "baik", "warning": "waspada", "failing": "rusak", "unknown": "tidak diketahui",
        "ready": "Siap menerima unggahan", "not_ready": "Belum siap menerima unggahan",
        "critical": "kritis", "info": "info",
        "coverage": "Tanpa pemantauan SMART", "coverage_intro": "Folder ini berada di disk yang tidak dapat "
        "dipantau jaga:", "smart_pending": "Menunggu pembacaan SMART pertama",
        "target_down": "target {name} mati", "disk_bad": "disk {name} {health}",
        "fs_readonly": "{path} hanya-baca",
        "exposed": "Halaman ini terbuka ke jaringan tanpa TLS atau kata sandi",
    },
}

ALERT_TITLES = {
    "en": {},
    "id": {
        "NodeSilent": "Server fleet tidak berdetak", "DiskFailing": "Disk rusak", "DiskWarning": "Disk menunjukkan tanda bahaya",
        "DiskUnknown": "Disk tidak menjawab SMART", "DiskCounterRising": "Penghitung galat disk naik",
        "SmartUnavailable": "SMART tidak tersedia", "FilesystemLow": "Ruang hampir habis",
        "FilesystemReadOnly": "Sistem berkas hanya-baca", "FilesystemFillingUp": "Ruang akan segera penuh",
        "TargetDown": "Target replika mati", "ReplicationBacklogOld": "Antrean replikasi terlalu lama",
        "ReplicationErrors": "Replikasi terus gagal", "ScrubFoundDamage": "Pemeriksaan menemukan kerusakan",
    },
}

COVERAGE = {
    "id": {
        "ok": "SMART memantau {disk}",
        "no_disk": "{path} berada di {fstype} ({mountpoint}), bukan disk lokal: tidak ada SMART di sini",
        "disabled": "pembacaan SMART dimatikan (monitor.smart.enabled: false)",
        "smartctl_unavailable": "smartctl tidak dapat dijalankan: {error}",
        "virtual_disk": "{disk} adalah disk virtual ({kind}): disk fisik milik host tidak terlihat dari dalam "
                        "mesin ini; pantau disk itu di host",
        "raid_controller": "{disk} adalah volume pengendali RAID ({kind}): daftarkan disk anggotanya di "
                           "monitor.smart.devices dengan tipe pengendalinya (mis. megaraid,0)",
        "permission": "tidak ada izin membaca {disk} ({kind}): jalankan jaga sebagai root atau dengan "
                      "CAP_SYS_RAWIO (unit bawaan memberikannya)",
        "unreadable": "smartctl tidak dapat membaca {disk}: {error}",
        "not_polled": "pemindaian smartctl tidak mencantumkan {disk}: tambahkan ke monitor.smart.devices",
    },
}


def choose_language(configured: str, accept_language: str | None) -> str:
    """``ui.language`` when it names one; for auto, the browser's best supported choice (else en)."""
    if configured in LANGUAGES:
        return configured
    choices = []
    for index, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            choices.append((-quality, index, primary))
    return min(choices)[2] if choices else "en"


class Words:
    """What the page needs in one language: fixed words, run-time sentences, alert titles, dates."""

    def __init__(self, language: str):
        self.language = language
        self.text = TEXT[language]

    def __getitem__(self, key: str) -> str:
        return self.text[key]

    def get(self, key: str, default: str) -> str:
        return self.text.get(key, default)

    def sentence(self, english: str) -> str:
        return to_indonesian(english) if self.language == "id" else english

    def duration(self, english: str) -> str:
        return duration_id(english) if self.language == "id" else english

    def alert_title(self, alertname: str) -> str:
        return ALERT_TITLES[self.language].get(alertname, alertname)

    def coverage(self, item: dict) -> str:
        template = COVERAGE.get(self.language, {}).get(item["reason"])
        if template is None:
            return item["detail"]
        params = {key: self.sentence(value) if key == "error" else value for key, value in item["params"].items()}
        return template.format(path=item["path"], disk=item["disk"], **params)

    def day_time(self, timestamp: float) -> str:
        """``02 Dec 14:05``, month names in the page's language."""
        local = time.localtime(timestamp)
        month = MONTHS[self.language][local.tm_mon - 1] if self.language in MONTHS else time.strftime("%b", local)
        return f"{local.tm_mday:02d} {month} {time.strftime('%H:%M', local)}"

    def moment(self, timestamp: float) -> str:
        """``2026-12-02 14:05:03``: numbers only, the same in every language."""
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))

"""The status page's words, in English and Indonesian (`ui.language: en | id`)."""

TEXT = {
    "en": {
        "title": "jaga status", "all_good": "All uploads are protected", "attention": "Needs attention",
        "alerts": "Alerts", "no_alerts": "No alerts firing", "since": "since",
        "disks": "Disks", "device": "Disk", "model": "Model", "health": "Health", "temperature": "Temp.",
        "reasons": "Reasons", "no_disks": "No SMART data yet",
        "filesystems": "Folders and space", "path": "Folder", "free": "free", "readonly": "read-only",
        "targets": "Replica targets", "target": "Target", "state": "State", "up": "up", "down": "down",
        "pending": "Pending", "oldest": "Oldest pending", "failed": "Failed", "last_scrub": "Last scrub",
        "never": "never", "damage": "damage found",
        "intake": "Intake", "today": "Today", "week": "Last 7 days", "files": "files",
        "safe": "safe on every target", "updated": "Updated", "refresh": "refreshes every 15 s",
        "ok": "ok", "warning": "warning", "failing": "failing", "unknown": "unknown",
        "ready": "Accepting uploads", "not_ready": "Not ready for uploads",
        "exposed": "This page is open to the network without TLS or a password",
    },
    "id": {
        "title": "status jaga", "all_good": "Semua unggahan terlindungi", "attention": "Perlu perhatian",
        "alerts": "Peringatan", "no_alerts": "Tidak ada peringatan aktif", "since": "sejak",
        "disks": "Disk", "device": "Disk", "model": "Model", "health": "Kesehatan", "temperature": "Suhu",
        "reasons": "Alasan", "no_disks": "Belum ada data SMART",
        "filesystems": "Folder dan ruang", "path": "Folder", "free": "kosong", "readonly": "hanya-baca",
        "targets": "Target replika", "target": "Target", "state": "Keadaan", "up": "aktif", "down": "mati",
        "pending": "Menunggu", "oldest": "Antrean tertua", "failed": "Gagal", "last_scrub": "Pemeriksaan terakhir",
        "never": "belum pernah", "damage": "ada kerusakan",
        "intake": "Berkas masuk", "today": "Hari ini", "week": "7 hari terakhir", "files": "berkas",
        "safe": "aman di semua target", "updated": "Diperbarui", "refresh": "diperbarui tiap 15 detik",
        "ok": "baik", "warning": "waspada", "failing": "rusak", "unknown": "tidak diketahui",
        "ready": "Siap menerima unggahan", "not_ready": "Belum siap menerima unggahan",
        "exposed": "Halaman ini terbuka ke jaringan tanpa TLS atau kata sandi",
    },
}

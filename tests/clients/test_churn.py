"""A seeded churn of file and folder operations (300 a second: writes, dot-temp and .part renames,
overwrites, deletions, files and folders moved and renamed, folders moved out of the tree and back,
new nested folders written into at once) while another process keeps a core busy. Then one new
upload in every folder: a folder whose watch went dark misses it until the periodic reconcile
(15 minutes away). Everything must be in the journal and on every target within seconds.

``JAGA_CHURN_SEED`` picks another seed (the closing note's "runs without a miss" loop uses it).
"""

from __future__ import annotations

import os

from bench.churn import Burner, Churn
from tests.clients.rig import assert_uploads_safe

SEED = int(os.environ.get("JAGA_CHURN_SEED", "20261202"))
OPERATIONS = 4500
RATE = 300.0


def test_a_seeded_churn_with_folder_renames_on_a_busy_machine_misses_nothing(deployment, tmp_path):
    d = deployment.start()
    churn = Churn(d.uploads, tmp_path / "outside", seed=SEED)
    churn.seed_tree(folders=20, files_each=3)
    with Burner():
        churn.run(OPERATIONS, RATE)
        after = churn.upload_everywhere()
        d.wait_verified([rel.encode() for rel in after], timeout=30)
    finished = {rel.encode(): state.sha256 for rel, state in churn.files.items()}
    assert_uploads_safe(d, finished, temporary=r"(^|/)\.|\.part$", single_version=False)
    assert d.journal_rows("SELECT count(*) FROM files WHERE deleted_at IS NULL")[0][0] == len(churn.files)

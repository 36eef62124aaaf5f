#!/usr/bin/env python3
"""Records what a real Terraform prints, to be replayed by ``tests/fake_terraform/terraform``.

Use it as Terraform (``TOWERGEN_TERRAFORM=tests/fake_terraform/record.py``) with
``REAL_TERRAFORM`` naming the real binary and ``RECORD_DIR`` a folder: each call is passed through
unchanged and saved as ``NN-<command>.out`` (everything it printed) with its exit code in
``NN-<command>.code``. ``python tests/regenerate.py streams`` re-records the scenarios.
"""

import os
import subprocess
import sys
from pathlib import Path

real = os.environ["REAL_TERRAFORM"]
folder = Path(os.environ["RECORD_DIR"])
folder.mkdir(parents=True, exist_ok=True)
command = next((a for a in sys.argv[1:] if not a.startswith("-")), "none")
if "-destroy" in sys.argv:
    command = "destroy"
number = len(list(folder.glob("*.code")))
proc = subprocess.run([real, *sys.argv[1:]], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
sys.stdout.buffer.write(proc.stdout)
(folder / f"{number:02d}-{command}.out").write_bytes(proc.stdout)
(folder / f"{number:02d}-{command}.code").write_text(f"{proc.returncode}\n")
sys.exit(proc.returncode)

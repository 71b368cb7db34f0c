"""``python -m course_utils lab | demo 04 | test | ...``: see ``course_utils.tasks``."""

from .tasks import main

raise SystemExit(main())

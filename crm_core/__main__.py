import sys

from crm_core.cli import main

sys.exit(main())

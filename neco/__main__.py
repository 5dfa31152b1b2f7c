import sys

from neco.cli import main

sys.exit(main())

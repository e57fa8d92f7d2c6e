"""The running instrument's own housekeeping."""

import gc

from gridtonic.app import Instrument
from gridtonic.core.session import default_session


async def test_loading_the_prior_leaves_the_startup_objects_out_of_later_collections():
    inst = Instrument(default_session())
    gc.unfreeze()
    await inst.load_prior()
    assert inst.sampler is not None
    assert gc.get_freeze_count() > 10_000  # the prior's and the modules' objects
    gc.unfreeze()

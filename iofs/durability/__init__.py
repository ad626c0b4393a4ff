"""The crash plane: what a power cut would leave of every regular file (:mod:`.journal`),
the crash itself (:mod:`.crash`) and its control files (:mod:`.control`)."""

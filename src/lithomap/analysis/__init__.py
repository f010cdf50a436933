"""Science reports: thermal signatures and the thesis's hypotheses, confidence vs vegetation, the HTML report."""

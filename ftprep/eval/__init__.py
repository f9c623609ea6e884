"""`ftprep eval`: run test prompts through candidate models and say, with statistics, which is better.

answers (what a model said), metrics (how close it is to the reference), stats (confidence
intervals, paired tests, verdicts); the engine modules run the requests and build the report.
"""

"""Words and languages: normalising text, index terms, spelling, function words, language detection."""

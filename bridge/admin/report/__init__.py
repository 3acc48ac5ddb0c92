"""The annual report: the figures (build, timeliness), one document value (document, parts, appendix) and its writers (text, office: xlsx, docx, chart)."""

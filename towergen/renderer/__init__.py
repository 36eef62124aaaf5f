"""The output files, in memory: the values each template prints, the one escaping layer, the
Jinja environments that refuse unescaped values, HCL layout, the user-data, and the checks that
read every file back."""

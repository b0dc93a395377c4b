// placeholder so the daemon library has a source until its parts land

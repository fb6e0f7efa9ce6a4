namespace ElmanRnn;
internal static class Probe { }

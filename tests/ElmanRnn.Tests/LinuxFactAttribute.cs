namespace ElmanRnn.Tests;

/// <summary>A fact that needs Linux's file system (for example /proc); skipped elsewhere.</summary>
internal sealed class LinuxFactAttribute : FactAttribute
{
    public LinuxFactAttribute()
    {
        if (!OperatingSystem.IsLinux())
            Skip = "needs Linux";
    }
}

using System.Globalization;
using System.Numerics;
using System.Text;

namespace ElmanRnn.Layout;

/// <summary>
/// How every message of the library (and the CLI's demo) quotes a shape or a list of sizes: <c>[3, 2, 4]</c>, the
/// list inside PyTorch's <c>torch.Size([3, 2, 4])</c>. Messages that reproduce PyTorch's own wording keep its
/// tuples (<c>Expected hidden size (2, 3, 20), got [3, 2, 20]</c>).
/// </summary>
internal static class ShapeText
{
    /// <summary>Formats sizes as <c>[3, 2, 4]</c>; <c>[]</c> when empty.</summary>
    public static string Format<T>(ReadOnlySpan<T> sizes) where T : IBinaryInteger<T>
    {
        var text = new StringBuilder("[");
        for (int i = 0; i < sizes.Length; i++)
            text.Append(i == 0 ? "" : ", ").Append(sizes[i].ToString(null, CultureInfo.InvariantCulture));
        return text.Append(']').ToString();
    }
}

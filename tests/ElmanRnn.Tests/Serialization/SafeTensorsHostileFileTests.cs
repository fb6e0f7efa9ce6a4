using System.Text;
using ElmanRnn.Serialization;
using static ElmanRnn.Tests.Serialization.SafeTensorsFiles;

namespace ElmanRnn.Tests.Serialization;

/// <summary>
/// Every malformed or hostile safetensors file is refused with <see cref="InvalidDataException"/> whose message names
/// the problem, before anything sized by the file's claims is allocated, and never with an out-of-range read.
/// </summary>
public class SafeTensorsHostileFileTests
{
    private static string Tensor(string name, string dtype, string shape, long begin, long end) =>
        $$$"""{"{{{name}}}":{"dtype":"{{{dtype}}}","shape":{{{shape}}},"data_offsets":[{{{begin}}},{{{end}}}]}}""";

    public static TheoryData<string, byte[], string> Cases => new()
    {
        { "file shorter than the length field", [1, 0, 0], "fewer than the 8-byte header length" },
        { "header length past the end of the file", [.. Length(100), .. "{}"u8], "header length 100 runs past the end of the file (2 bytes" },
        { "absurd header length", Length(-1), "header length 18446744073709551615 exceeds the format's limit" },
        { "header just over the 100 MB limit", Length(100_000_001), "exceeds the format's limit of 100000000 bytes" },
        { "header not JSON", Build("{not json"), "not valid UTF-8 JSON" },
        { "header not UTF-8", Build([0x7B, 0xFF, 0xFE, 0x7D], []), "not valid UTF-8 JSON" },
        // Inside strings JsonDocument does not check UTF-8, so these reached GetString and threw InvalidOperationException.
        {
            "invalid UTF-8 byte in a tensor name",
            Build([.. "{\"x"u8, 0xFF, .. "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8], F32(1)),
            "not valid UTF-8 JSON: invalid UTF-8 sequence at header byte 3"
        },
        {
            "truncated UTF-8 sequence in a dtype",
            Build([.. "{\"x\":{\"dtype\":\"F"u8, 0xC3, .. "\",\"shape\":[1],\"data_offsets\":[0,4]}}"u8], F32(1)),
            "invalid UTF-8 sequence at header byte 16"
        },
        {
            "UTF-8-encoded lone surrogate in a metadata value",
            Build([.. "{\"__metadata__\":{\"format\":\"p"u8, 0xED, 0xA0, 0x80, .. "\"}}"u8], []),
            "invalid UTF-8 sequence at header byte 28"
        },
        // Oracle: System.Text.Json's default depth limit of 64, which keeps a bracket bomb off the call stack.
        { "JSON nested 100 000 deep", Build("{\"x\":" + new string('[', 100_000)), "not valid UTF-8 JSON: *depth*64*" },
        { "JSON not an object", Build("[1, 2]"), "must be a JSON object, found Array" },
        { "tensor entry not an object", Build("""{"x": 3}"""), "tensor 'x' must be described by an object" },
        { "missing dtype", Build("""{"x":{"shape":[1],"data_offsets":[0,4]}}""", F32(1)), "tensor 'x' has no string \"dtype\"" },
        { "unknown dtype", Build(Tensor("x", "F8_E4M3", "[1]", 0, 1), 0), "tensor 'x' has dtype 'F8_E4M3'; supported are" },
        { "shape not an array", Build(Tensor("x", "F32", "4", 0, 4), F32(1)), "tensor 'x' needs \"shape\" as an array of integers" },
        { "fractional dimension", Build(Tensor("x", "F32", "[1.5]", 0, 4), F32(1)), "tensor 'x' shape entry 1.5 is not an integer" },
        { "negative dimension", Build(Tensor("x", "F32", "[-1]", 0, 4), F32(1)), "tensor 'x' shape entry -1 is negative" },
        { "one data offset", Build("""{"x":{"dtype":"F32","shape":[1],"data_offsets":[4]}}""", F32(1)), "needs \"data_offsets\" as an array of 2 integers" },
        { "offsets ending before they begin", Build(Tensor("x", "F32", "[0]", 4, 0), F32(1)), "data_offsets [4, 0] end before they begin" },
        { "offsets past the end of the data", Build(Tensor("x", "F32", "[2]", 0, 8), F32(1)), "tensor 'x' data [0, 8) runs past the end of the data section (4 bytes)" },
        {
            "overlapping tensors",
            Build("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}""", F32(1, 2)),
            "tensor 'b' data [4, 8) overlaps the previous tensor, which ends at 8"
        },
        {
            "gap between tensors",
            Build("""{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}}""", F32(1, 2, 3)),
            "tensor 'b' data starts at 8, leaving bytes [4, 8) unused"
        },
        { "bytes after the last tensor", Build(Tensor("x", "F32", "[1]", 0, 4), F32(1, 2)), "data section has 8 bytes but its tensors cover only 4" },
        { "shape and dtype not matching the byte range", Build(Tensor("x", "F64", "[2]", 0, 8), F32(1, 2)), "tensor 'x' of shape [2] and dtype F64 needs 16 bytes, but its data_offsets [0, 8] hold 8" },
        {
            "shape whose element count overflows 64 bits",
            Build(Tensor("x", "F32", "[4611686018427387904, 4611686018427387904, 4611686018427387904]", 0, 4), F32(1)),
            "needs over 4 bytes"
        },
        { "duplicate tensor name", Build("""{"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"x":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}"""), "names 'x' twice" },
        { "metadata value not a string", Build("""{"__metadata__":{"epoch":3}}"""), "__metadata__ value 'epoch' must be a string, found Number" },
        { "metadata not an object", Build("""{"__metadata__":"pt"}"""), "__metadata__ must be an object of strings" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void IsRefusedWithAMessageNamingTheProblem(string problem, byte[] file, string message)
    {
        FluentActions.Invoking(() => SafeTensors.Read<float>(file))
            .Should().Throw<InvalidDataException>().WithMessage($"*{message}*", because: problem);
        FluentActions.Invoking(() => SafeTensors.Read<double>(new MemoryStream(file)))
            .Should().Throw<InvalidDataException>().WithMessage($"*{message}*", because: problem);
        FluentActions.Invoking(() => SafeTensors.Read<double>(new ForwardOnlyStream(file)))
            .Should().Throw<InvalidDataException>().WithMessage($"*{message}*", because: problem);
    }

    [Fact]
    public void MetadataReadingValidatesTheWholeHeader()
    {
        byte[] file = Build(Tensor("x", "F32", "[1]", 0, 4), F32(1, 2));

        FluentActions.Invoking(() => SafeTensors.ReadMetadata(new MemoryStream(file)))
            .Should().Throw<InvalidDataException>().WithMessage("*cover only 4*");
        FluentActions.Invoking(() => SafeTensors.ReadMetadata(file))
            .Should().Throw<InvalidDataException>().WithMessage("*cover only 4*");
    }

    [Fact]
    public void AHeaderLengthClaimingGigabytesAllocatesNothingBeforeFailing()
    {
        // 99 MB claimed, 2 bytes present: must fail on the length check, not on a 99 MB read.
        byte[] file = [.. Length(99_000_000), .. Encoding.ASCII.GetBytes("{}")];
        long before = GC.GetAllocatedBytesForCurrentThread();

        FluentActions.Invoking(() => SafeTensors.Read<float>(new MemoryStream(file))).Should().Throw<InvalidDataException>();

        (GC.GetAllocatedBytesForCurrentThread() - before).Should().BeLessThan(1_000_000);
    }
}
